// Command example walks through the vectordb API from Go with the generated package
// vectordb/clients/go/vectordbv1: health check, create a collection, upsert points with payloads,
// search with a filter, stream a bulk load through Ingest, read points back, map an error to its gRPC
// status code, delete points and drop the collection.
//
// Usage:
//
//	example [-addr 127.0.0.1:50051] [-collection go_example] [-batches 20] [-batch-size 500]
//
// It prints one line per step and exits 0 when every step did what it expected, 1 otherwise.
// Every call has a deadline (-timeout, default 30 s, for the whole run).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "vectordb/clients/go/vectordbv1"
)

const dimension = 4

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "server address, host:port")
	collection := flag.String("collection", "go_example", "collection to create (dropped at the end)")
	batches := flag.Int("batches", 20, "Ingest messages to stream")
	batchSize := flag.Int("batch-size", 500, "points per Ingest message (server limit: 10,000 by default)")
	timeout := flag.Duration("timeout", 30*time.Second, "deadline of the whole run")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, *addr, *collection, *batches, *batchSize); err != nil {
		fmt.Fprintln(os.Stderr, "example failed:", err)
		os.Exit(1)
	}
	fmt.Println("ok")
}

func run(ctx context.Context, addr, collection string, batches, batchSize int) error {
	// Plaintext, as the server listens today. grpc.WithInsecure is the option that exists in every
	// grpc-go release, including Debian's 1.33 (credentials/insecure came in 1.34).
	conn, err := grpc.DialContext(ctx, addr, grpc.WithInsecure())
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	collections := v1.NewCollectionServiceClient(conn)
	points := v1.NewPointServiceClient(conn)

	health, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	fmt.Println("health:", health.Status)

	created, err := collections.CreateCollection(ctx, &v1.CreateCollectionRequest{
		Name: collection, Dimension: dimension, Distance: v1.Distance_DISTANCE_COSINE,
	})
	if err != nil {
		return fmt.Errorf("create collection: %w", err)
	}
	fmt.Printf("created: %s dimension=%d hnsw.m=%d\n", created.Collection.Name, created.Collection.Dimension, created.Collection.Hnsw.M)

	if err := upsertAndSearch(ctx, points, collection); err != nil {
		return err
	}
	if err := ingest(ctx, points, collection, batches, batchSize); err != nil {
		return err
	}

	got, err := points.Get(ctx, &v1.GetRequest{Collection: collection, Ids: []string{"a", "missing"}})
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	if len(got.Points) != 1 {
		return fmt.Errorf("get: %d points, want 1 (missing ids are left out)", len(got.Points))
	}
	fmt.Printf("get: %s payload=%v\n", got.Points[0].Id, got.Points[0].Payload.AsMap())

	// Errors carry a gRPC status: a 2-component vector in a 4-dimensional collection.
	_, err = points.Search(ctx, &v1.SearchRequest{Collection: collection, Vector: []float32{1, 0}, K: 1})
	if status.Code(err) != codes.InvalidArgument {
		return fmt.Errorf("search with a wrong dimension: got %v, want InvalidArgument", err)
	}
	fmt.Println("error:", status.Code(err), "-", status.Convert(err).Message())

	deleted, err := points.Delete(ctx, &v1.DeleteRequest{Collection: collection, Ids: []string{"a", "b"}})
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	dropped, err := collections.DeleteCollection(ctx, &v1.DeleteCollectionRequest{Name: collection})
	if err != nil {
		return fmt.Errorf("delete collection: %w", err)
	}
	fmt.Printf("deleted: %d points, then the collection with %d points\n", deleted.Deleted, dropped.DeletedPoints)
	return nil
}

// upsertAndSearch writes three points with payloads and finds the English ones nearest to [1, 0, 0, 0].
func upsertAndSearch(ctx context.Context, points v1.PointServiceClient, collection string) error {
	seed := []struct {
		id     string
		vector []float32
		lang   string
		year   float64
	}{
		{"a", []float32{1, 0, 0, 0}, "en", 2024},
		{"b", []float32{0.9, 0.1, 0, 0}, "fr", 2023},
		{"c", []float32{0, 1, 0, 0}, "en", 2020},
	}
	request := &v1.UpsertRequest{Collection: collection}
	for _, s := range seed {
		payload, err := structpb.NewStruct(map[string]interface{}{"lang": s.lang, "year": s.year})
		if err != nil {
			return fmt.Errorf("payload of %s: %w", s.id, err)
		}
		request.Points = append(request.Points, &v1.Point{Id: s.id, Vector: s.vector, Payload: payload})
	}
	upserted, err := points.Upsert(ctx, request)
	if err != nil {
		return fmt.Errorf("upsert: %w", err)
	}
	fmt.Printf("upserted: inserted=%d updated=%d\n", upserted.Inserted, upserted.Updated)

	english := &v1.Filter{Must: []*v1.Condition{{
		Condition: &v1.Condition_Field{Field: &v1.FieldCondition{
			Key: "lang", Match: &v1.FieldCondition_Equals{Equals: structpb.NewStringValue("en")},
		}},
	}}}
	found, err := points.Search(ctx, &v1.SearchRequest{Collection: collection, Vector: []float32{1, 0, 0, 0}, K: 2, Filter: english})
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	for _, hit := range found.Hits {
		fmt.Printf("hit: %s score=%.3f lang=%v\n", hit.Id, hit.Score, hit.Payload.AsMap()["lang"])
	}
	if len(found.Hits) != 2 || found.Hits[0].Id != "a" || found.Hits[1].Id != "c" {
		return errors.New("search: want hits a then c")
	}
	return nil
}

// ingest streams `batches` messages of `batchSize` random points. Send blocks while HTTP/2 flow
// control holds the stream back (the server applies each batch before reading the next), so memory
// stays at about one batch however many are sent.
func ingest(ctx context.Context, points v1.PointServiceClient, collection string, batches, batchSize int) error {
	stream, err := points.Ingest(ctx)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	random := rand.New(rand.NewSource(1))
	for b := 0; b < batches; b++ {
		message := &v1.IngestRequest{Collection: collection, Points: make([]*v1.Point, batchSize)}
		for i := range message.Points {
			vector := make([]float32, dimension)
			for d := range vector {
				vector[d] = random.Float32()
			}
			message.Points[i] = &v1.Point{Id: fmt.Sprintf("bulk-%d-%d", b, i), Vector: vector}
		}
		if err := stream.Send(message); err != nil {
			// The server ended the call; CloseAndRecv returns its status.
			_, err = stream.CloseAndRecv()
			return fmt.Errorf("ingest batch %d: %w", b, err)
		}
	}
	totals, err := stream.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	fmt.Printf("ingested: batches=%d inserted=%d updated=%d\n", totals.Batches, totals.Inserted, totals.Updated)
	if totals.Inserted != uint64(batches*batchSize) {
		return fmt.Errorf("ingest: inserted %d, want %d", totals.Inserted, batches*batchSize)
	}
	return nil
}

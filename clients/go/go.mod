// The Go client of the vectordb gRPC server: the generated package vectordbv1 and an example.
//
// The versions below are the ones the test suite builds and runs with: Debian bookworm's
// golang-google-grpc-dev, golang-google-protobuf-dev and golang-github-golang-protobuf-1-5-dev.
// There, with no module proxy reachable, the build runs in GOPATH mode (GO111MODULE=off) with this
// folder at $GOPATH/src/vectordb/clients/go and /usr/share/gocode on GOPATH, and this file is not
// read. In module mode (with a proxy), run `go mod tidy` first to write go.sum; the module path has
// no host yet, so use it from a go.work or a `replace vectordb/clients/go => ./path/to/clients/go`.
module vectordb/clients/go

go 1.19

require (
	github.com/golang/protobuf v1.5.2 // indirect
	google.golang.org/grpc v1.33.3
	google.golang.org/protobuf v1.28.1
)

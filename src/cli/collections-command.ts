import { Command, Option } from "commander";
import {
  CreateCollectionResponseSchema,
  DeleteCollectionResponseSchema,
  distanceNames,
  distanceToProto,
  GetCollectionResponseSchema,
  ListCollectionsResponseSchema,
  ScalarType,
  type DistanceKind,
} from "../client/index.js";
import { action, UsageError } from "./cli-errors.js";
import { print, withClient } from "./client-context.js";
import { finiteNumber, integerIn, messageJson } from "./parse.js";

/** Options of `collections create`. */
interface CreateOptions {
  dimension: number;
  distance: DistanceKind;
  m?: number;
  efConstruction?: number;
  ef?: number;
  quantization?: "int8";
  quantile?: number;
}

/**
 * The HNSW options shared by `collections create` and `ingest --create`: `--m`, `--ef-construction`,
 * `--ef` (absent = the server default).
 */
export function hnswOptions(): Option[] {
  return [
    new Option("--m <n>", "HNSW links per node (default: server's, 16)").argParser(integerIn(2, 0xffff_ffff)),
    new Option("--ef-construction <n>", "HNSW candidate list while inserting (default: server's, 200)").argParser(integerIn(1, 0xffff_ffff)),
    new Option("--ef <n>", "HNSW default candidate list while searching (default: server's, 64)").argParser(integerIn(1, 0xffff_ffff)),
  ];
}

/**
 * `vectordb collections create|list|get|delete`: CollectionService calls; each prints the response as
 * proto3 JSON (64-bit counts as strings). Server errors exit 1 with `error: <STATUS>: <details>`.
 */
export function collectionsCommand(): Command {
  const collections = new Command("collections").description("create, list, describe and drop collections");

  const create = new Command("create")
    .description("create an empty collection")
    .argument("<name>", "collection name: 1 to 64 characters from [A-Za-z0-9_-]")
    .addOption(new Option("--dimension <n>", "vector dimension").argParser(integerIn(1, 0xffff_ffff)).makeOptionMandatory())
    .addOption(new Option("--distance <distance>", "distance").choices(distanceNames).makeOptionMandatory());
  for (const option of hnswOptions()) create.addOption(option);
  create
    .addOption(new Option("--quantization <type>", "scalar quantization of the vectors (searches score int8 codes, then rescore)").choices(["int8"]))
    .addOption(new Option("--quantile <q>", "share of each component's values the int8 range spans, in (0.5, 1] (default: server's, 0.99)").argParser(finiteNumber));
  create.action(
    action(async (name: string, options: CreateOptions) => {
      if (options.quantile !== undefined && options.quantization === undefined) throw new UsageError("--quantile needs --quantization int8");
      await withClient(create, async ({ client, timeoutMs }) => {
        const response = await client.collections.createCollection(
          {
            name,
            dimension: options.dimension,
            distance: distanceToProto(options.distance),
            hnsw: { m: options.m ?? 0, efConstruction: options.efConstruction ?? 0, ef: options.ef ?? 0 },
            quantization:
              options.quantization === undefined
                ? undefined
                : { method: { case: "scalar", value: { type: ScalarType.INT8, quantile: options.quantile } } },
          },
          { timeoutMs },
        );
        print(messageJson(CreateCollectionResponseSchema, response));
      });
    }),
  );

  const list = new Command("list").description("list every collection, sorted by name");
  list.action(
    action(async () => {
      await withClient(list, async ({ client, timeoutMs }) => {
        print(messageJson(ListCollectionsResponseSchema, await client.collections.listCollections({}, { timeoutMs })));
      });
    }),
  );

  const get = new Command("get").description("describe one collection (point count, memory estimate)").argument("<name>", "collection name");
  get.action(
    action(async (name: string) => {
      await withClient(get, async ({ client, timeoutMs }) => {
        print(messageJson(GetCollectionResponseSchema, await client.collections.getCollection({ name }, { timeoutMs })));
      });
    }),
  );

  const drop = new Command("delete").description("drop a collection and all of its points").argument("<name>", "collection name");
  drop.action(
    action(async (name: string) => {
      await withClient(drop, async ({ client, timeoutMs }) => {
        print(messageJson(DeleteCollectionResponseSchema, await client.collections.deleteCollection({ name }, { timeoutMs })));
      });
    }),
  );

  return collections.addCommand(create).addCommand(list).addCommand(get).addCommand(drop);
}

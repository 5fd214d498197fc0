import { toJson, type JsonObject } from "@bufbuild/protobuf";
import { cliDefaults } from "../config.js";
import { Command, Option } from "commander";
import { SearchResponseSchema } from "../client/index.js";
import { action, UsageError } from "./cli-errors.js";
import { print, withClient } from "./client-context.js";
import { finiteNumber, integerIn, parseFilterJson, parseVectorJson } from "./parse.js";
import { readFvecsRow } from "../datasets/index.js";


/** Options of `search`. */
interface SearchOptions {
  collection: string;
  vector?: string;
  fvecs?: string;
  row?: number;
  k: number;
  filter?: string;
  scoreThreshold?: number;
  ef?: number;
  exact?: boolean;
  withVector?: boolean;
  payload: boolean;
}

/** The query vector from `--vector <json>` or `--fvecs <file> --row <i>` (exactly one of the two). */
async function queryVector(options: SearchOptions): Promise<number[]> {
  const { vector, fvecs, row } = options;
  const exactlyOne = (): UsageError => new UsageError("give exactly one of --vector <json-array> and --fvecs <file> --row <i>");
  if (vector !== undefined) {
    if (fvecs !== undefined) throw exactlyOne();
    if (row !== undefined) throw new UsageError("--row only applies with --fvecs");
    return parseVectorJson(vector);
  }
  if (fvecs === undefined) throw exactlyOne();
  if (row === undefined) throw new UsageError("--fvecs needs --row <i>");
  return Array.from(await readFvecsRow(fvecs, row));
}

/**
 * `vectordb search --collection <name> (--vector <json> | --fvecs <file> --row <i>)`: one
 * PointService.Search; prints the response (`{"hits": [...]}`, best first) as proto3 JSON. `--filter`
 * takes the proto3 JSON form of `vectordb.v1.Filter`; a malformed vector or filter exits 2.
 */
export function searchCommand(): Command {
  const command = new Command("search")
    .description("find the k nearest points to a vector")
    .requiredOption("--collection <name>", "collection to search (required)")
    .option("--vector <json-array>", "query vector as a JSON array, e.g. [0.1,0.2,0.3]")
    .option("--fvecs <file>", "read the query vector from this .fvecs file (with --row)")
    .addOption(new Option("--row <i>", "0-based record of --fvecs").argParser(integerIn(0)))
    .addOption(new Option("-k <n>", "number of hits").argParser(integerIn(1, 0xffff_ffff)).default(cliDefaults.searchK))
    .option("--filter <json>", 'vectordb.v1.Filter as proto3 JSON, e.g. \'{"must":[{"field":{"key":"lang","equals":"en"}}]}\'')
    .addOption(new Option("--score-threshold <x>", "cosine/dot: score >= x; euclidean: distance <= x").argParser(finiteNumber))
    .addOption(new Option("--ef <n>", "HNSW candidate list width (default: the collection's)").argParser(integerIn(1, 0xffff_ffff)))
    .option("--exact", "exact (brute-force) search instead of the HNSW index")
    .option("--with-vector", "return each hit's vector")
    .option("--no-payload", "do not return payloads");
  command.action(
    action(async (options: SearchOptions) => {
      const vector = await queryVector(options);
      const filter = options.filter === undefined ? undefined : parseFilterJson(options.filter);
      await withClient(command, async ({ client, timeoutMs }) => {
        const response = await client.points.search(
          {
            collection: options.collection,
            vector,
            k: options.k,
            filter,
            scoreThreshold: options.scoreThreshold,
            ef: options.ef ?? 0,
            exact: options.exact === true,
            withPayload: options.payload,
            withVector: options.withVector === true,
          },
          { timeoutMs },
        );
        // Zero values are printed (a score of 0 is an exact match), but not the empty vector of every hit
        // when vectors were not asked for.
        const json = toJson(SearchResponseSchema, response, { alwaysEmitImplicit: true }) as { hits: JsonObject[] };
        if (options.withVector !== true) for (const hit of json.hits) delete hit.vector;
        print(`${JSON.stringify(json, null, 2)}\n`);
      });
    }),
  );
  return command;
}

import type { MessageInitShape } from "@bufbuild/protobuf";
import { Command, Option } from "commander";
import { ListAliasesResponseSchema, UpdateAliasesResponseSchema, type AliasActionSchema, type VectorDbClient } from "../client/index.js";
import { action } from "./cli-errors.js";
import { print, withClient } from "./client-context.js";
import { messageJson } from "./parse.js";

type ActionInit = MessageInitShape<typeof AliasActionSchema>;

/** An UpdateAliases call with `actions`, applied by the server in order and atomically (all or none). */
async function updateAliases(client: VectorDbClient, actions: ActionInit[], timeoutMs: number | undefined): Promise<string> {
  return messageJson(UpdateAliasesResponseSchema, await client.collections.updateAliases({ actions }, { timeoutMs }));
}

/** The action that creates `alias` for `collection`. */
function createAlias(alias: string, collection: string): ActionInit {
  return { action: { case: "createAlias", value: { alias, collection } } };
}

/** The action that deletes `alias`. */
function deleteAlias(alias: string): ActionInit {
  return { action: { case: "deleteAlias", value: { alias } } };
}

/**
 * `vectordb aliases list|create|delete|rename|switch`: CollectionService.ListAliases and UpdateAliases.
 * `list` prints the ListAliasesResponse as proto3 JSON; the others make one UpdateAliases call and
 * print its (empty) response, `{}`. `switch ALIAS COLLECTION` is `delete ALIAS` + `create ALIAS
 * COLLECTION` in one call, which the server applies atomically: every call naming the alias meanwhile
 * reaches the old collection or the new one, never NOT_FOUND. Server errors exit 1 with
 * `error: <STATUS>: <details>` (NOT_FOUND for an unknown alias or collection, ALREADY_EXISTS for a
 * name taken by a collection or an alias, INVALID_ARGUMENT for a bad name).
 */
export function aliasesCommand(): Command {
  const aliases = new Command("aliases").description("list, create, delete, rename and switch aliases (other names of a collection)");

  const list = new Command("list")
    .description("list the aliases, sorted by alias")
    .addOption(new Option("--collection <name>", "only the aliases of this collection (its name or one of its aliases)"));
  list.action(
    action(async (options: { collection?: string }) => {
      await withClient(list, async ({ client, timeoutMs }) => {
        print(messageJson(ListAliasesResponseSchema, await client.collections.listAliases({ collection: options.collection ?? "" }, { timeoutMs })));
      });
    }),
  );

  const create = new Command("create")
    .description("create an alias of a collection")
    .argument("<alias>", "the new name: 1 to 64 characters from [A-Za-z0-9_-], not taken by a collection or an alias")
    .argument("<collection>", "the collection's own name (not another alias)");
  create.action(
    action(async (alias: string, collection: string) => {
      await withClient(create, async ({ client, timeoutMs }) => print(await updateAliases(client, [createAlias(alias, collection)], timeoutMs)));
    }),
  );

  const drop = new Command("delete").description("delete an alias (its collection stays)").argument("<alias>", "the alias");
  drop.action(
    action(async (alias: string) => {
      await withClient(drop, async ({ client, timeoutMs }) => print(await updateAliases(client, [deleteAlias(alias)], timeoutMs)));
    }),
  );

  const rename = new Command("rename")
    .description("rename an alias (it keeps naming the same collection)")
    .argument("<old-alias>", "the alias")
    .argument("<new-alias>", "its new name");
  rename.action(
    action(async (oldAlias: string, newAlias: string) => {
      const renameAction: ActionInit = { action: { case: "renameAlias", value: { oldAlias, newAlias } } };
      await withClient(rename, async ({ client, timeoutMs }) => print(await updateAliases(client, [renameAction], timeoutMs)));
    }),
  );

  const switchCommand = new Command("switch")
    .description("point an existing alias at another collection, atomically (delete + create in one UpdateAliases call)")
    .argument("<alias>", "an existing alias (use `aliases create` for a new one)")
    .argument("<collection>", "the collection it names from now on");
  switchCommand.action(
    action(async (alias: string, collection: string) => {
      await withClient(switchCommand, async ({ client, timeoutMs }) =>
        print(await updateAliases(client, [deleteAlias(alias), createAlias(alias, collection)], timeoutMs)),
      );
    }),
  );

  return aliases.addCommand(list).addCommand(create).addCommand(drop).addCommand(rename).addCommand(switchCommand);
}

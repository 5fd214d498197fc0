import { Command, Option } from "commander";
import { configFromSettings, configOptions, makeConfig, type ServerConfig } from "../config.js";
import { action, UsageError } from "./cli-errors.js";

/** The default of a setting, read from {@link makeConfig} at its dotted `path`, as a flag string; undefined when it has none (an API key, say). */
function defaultAt(config: ServerConfig, path: string): string | undefined {
  let value: unknown = config;
  for (const key of path.split(".")) value = (value as Record<string, unknown>)[key];
  return value === undefined ? undefined : String(value);
}

/**
 * The commander options of `serve`: one `--<flag> <value>` per entry of {@link configOptions}, reading
 * its environment variable when the flag is absent (a flag beats the environment, which beats the default).
 */
export function serveOptions(): Option[] {
  const defaults = makeConfig();
  return configOptions.map((option) => {
    const flag = new Option(`--${option.flag} <${option.kind === "integer" ? "n" : "value"}>`, option.description).env(option.env);
    const fallback = defaultAt(defaults, option.path);
    return fallback === undefined ? flag : flag.default(fallback);
  });
}

/**
 * `vectordb serve`: starts the server with the configuration from flags, environment and defaults, and
 * runs it until SIGTERM / SIGINT (see `runServer`). An invalid setting prints `error: <message>` and
 * exits 2; a port that cannot be bound exits 1.
 */
export function serveCommand(): Command {
  const command = new Command("serve").description("run the vector database server (flags beat VECTORDB_* environment variables)");
  const options = serveOptions();
  for (const option of options) command.addOption(option);
  command.action(
    action(async () => {
      const values = command.opts<Record<string, string | undefined>>();
      const settings: Record<string, string | undefined> = {};
      configOptions.forEach((option, i) => {
        settings[option.path] = values[options[i]!.attributeName()];
      });
      let config: ServerConfig;
      try {
        config = configFromSettings(settings);
      } catch (error) {
        throw new UsageError(error instanceof Error ? error.message : String(error));
      }
      // Loaded here so that client commands do not load the server, database and index code.
      const { runServer } = await import("../main.js");
      await runServer(config);
    }),
  );
  return command;
}

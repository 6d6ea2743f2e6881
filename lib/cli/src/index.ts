/**
 * @module @memmesh/cli
 * The `memmesh` command line as a function, for its bin and its tests.
 */
export { CLI_ENV_NAMES, DEFAULT_MEMMESH_URL, EXIT } from './config.ts';
export { type CliIo, EXIT_CODES_HELP, runCli } from './main.ts';

/** The most engine processes `processes` (and `--processes`) may ask for: the supervisor reads it without loading the schema. */
export const MAX_PROCESSES = 64;

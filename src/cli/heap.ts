// V8 heap settings of the commands that stream many records.

/**
 * The reading tools stream millions of records through a few MB at a time, and a producer with
 * many accounts makes short-lived garbage for each: V8 would let the heap grow to several times
 * what is live between full collections. Growing it by half of what is live keeps their peak RSS
 * under 256 MB (docs/performance.md). Set when the command starts, before it reads anything.
 */
export const READING_HEAP_FLAGS = '--heap-growing-percent=50';

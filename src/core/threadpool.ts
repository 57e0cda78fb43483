/**
 * libuv's thread pool runs every async native call of facecast: network reads (which block a pool thread until a
 * camera sends data), live decoding, x264 encodes and model runs. Its default of 4 threads is taken by the reads
 * of 4 idle cameras, and everything else then waits. 64 threads cost little (they sleep; stacks are virtual) and
 * keep decoding and inference moving with dozens of cameras. An explicit UV_THREADPOOL_SIZE wins.
 *
 * Must be the entry point's first import: libuv reads the variable when the pool first starts.
 */
process.env.UV_THREADPOOL_SIZE ??= '64';
export {};

/**
 * The load stage: brings a downloaded model into memory and keeps it there until it is unloaded.
 *
 * <h2>In-process</h2>
 * {@link dev.hoist.load.ModelInspector} validates every weight file before any tensor byte is
 * touched; the memory check takes the smaller of what the system has (MemAvailable, the cgroup)
 * less {@code HOIST_MEMORY_HEADROOM_MB} and {@code HOIST_MEMORY_LIMIT_MB} less what Hoist already
 * holds; then the tensor data is mapped in chunks of about 1 GiB cut at tensor boundaries
 * ({@link dev.hoist.load.MappingPlan}) and every page is touched on a worker, a slice at a time, so
 * progress is the bytes really resident and a cancel takes effect at the next slice.
 * An unload unmaps at once ({@code sun.misc.Unsafe.invokeCleaner}, see
 * {@link dev.hoist.load.Unmapper}) unless tensor views were handed out to an embedding application;
 * then the garbage collector unmaps once those views are unreachable, since unmapping under a live
 * view would crash the JVM.
 *
 * <h2>Native services</h2>
 * With a {@code native} object in {@code load.start} (a catalog entry's), or
 * {@code HOIST_NATIVE_COMMAND} / {@code STING_LLM_SCRIPT} configured, the validated model is handed
 * to a native LLM service instead ({@link dev.hoist.load.NativeLoad}): the command runs without a
 * shell ({@link dev.hoist.load.CommandTemplate}); its stdout and stderr lines become the
 * operation's log lines (stderr as warnings; throttled, the last lines always kept); progress is its
 * own printed percentage if it prints one, else the bytes its process tree has read
 * ({@link dev.hoist.load.ProcessIo}: {@code rchar}, or {@code read_bytes} when larger); it is ready
 * when its health URL answers 200 or a line matches {@code ready_pattern}. Exiting first, or missing
 * the timeout, fails the load with {@code native_service_failed} (retryable) and its last lines.
 * Cancel, unload and failures stop the whole process tree ({@link dev.hoist.load.ProcessTree}).
 * The command must keep the server in the foreground ({@code exec} in a wrapper script): a
 * launcher that exits leaves the JDK closing the output pipes, and the server would die of SIGPIPE.
 *
 * <h2>Embedding</h2>
 * An application that deploys the load verticle in its own Vert.x reads loaded models through
 * {@link dev.hoist.load.LoadedModels}: tensor names, dtypes, shapes, and read-only views of their
 * bytes in the mapping ({@link dev.hoist.load.TensorView}).
 */
package dev.hoist.load;

package dev.hoist.download;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.util.ReferenceCountUtil;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.net.ConnectOptions;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;
import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One GET for a file's bytes over a TCP (or TLS) connection on which Hoist speaks HTTP/1.1 itself.
 *
 * <p>Why not Vert.x's HTTP client: it copies every body chunk from Netty's pooled direct memory into
 * a new heap buffer on the event loop (and the JDK copies heap buffers once more on their way to a
 * file). Here the socket runs in Vert.x's raw message mode, so the body arrives as Netty's own direct
 * buffers, which go to the file and to the hash as they are; on loopback this took a third off the
 * download's CPU (docs/performance.md).
 *
 * <p>Only what a file download needs: one GET per connection ({@code Connection: close}), identity
 * encoding, a body delimited by {@code Content-Length}. A 200 or 206 whose body is delimited any other
 * way (chunked, or by the connection's end) is not read here: {@link NotDirect} tells the caller to
 * ask again through the HTTP client. Redirects, statuses and ranges are judged by the caller, as for
 * the client's answers.
 *
 * <p>Runs on the event loop of the context that called {@link #send}.
 */
final class DirectGet implements FileAnswer {

  /** The hub answered with a body this reader does not take; the request should go through the HTTP client. */
  static final class NotDirect extends RuntimeException {
    NotDirect(String why) {
      super(why, null, false, false);
    }
  }

  /** A hub whose status line and headers run longer than this is not answering like an HTTP server. */
  private static final int MAX_HEAD = 64 << 10;
  private static final ByteBuf END_OF_HEAD = Unpooled.unreleasableBuffer(Unpooled.wrappedBuffer(new byte[] {'\r', '\n', '\r', '\n'}));
  private static final Pattern STATUS_LINE = Pattern.compile("HTTP/1\\.[01] (\\d{3})(?: .*)?");

  private final NetSocketInternal socket;
  private final Promise<FileAnswer> head = Promise.promise();
  private ByteBuf headBytes;
  private int status;
  private final Map<String, String> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
  /** The body's length from Content-Length, or -1. */
  private long length = -1;
  /** Body bytes taken from the connection so far (delivered or waiting in {@link #backlog}). */
  private long received;
  private final ArrayDeque<ByteBuf> backlog = new ArrayDeque<>();
  private boolean paused = true;
  private boolean draining;
  private Handler<ByteBuf> data;
  private Handler<Void> end;
  private Handler<Throwable> error;
  /** Set once the body ended, failed, or was dropped: nothing more is delivered. */
  private boolean finished;
  private Throwable failure;

  private DirectGet(NetSocketInternal socket) {
    this.socket = socket;
  }

  /**
   * Connects to {@code uri}'s host and asks for it; completes with the answer's head, paused.
   * {@code onConnect} receives a way to close the connection as soon as there is one. {@code smallReads}:
   * a bandwidth limit applies, so reads stay at Netty's usual 64 KiB and none runs far ahead of it.
   */
  static Future<FileAnswer> send(Vertx vertx, NetClient net, URI uri, String range, String authorization,
      Consumer<Runnable> onConnect, long deadlineMs, boolean smallReads) {
    boolean tls = "https".equalsIgnoreCase(uri.getScheme());
    String host = uri.getHost();
    String bare = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    int port = HubFiles.port(uri);
    ConnectOptions options = new ConnectOptions().setHost(bare).setPort(port).setSsl(tls);
    if (tls && !bare.contains(":") && !bare.matches("[0-9.]+")) {
      options.setSniServerName(bare);
    }
    // One deadline for resolving the name and connecting, as for the HTTP client (HubClient.connect).
    Promise<NetSocket> connected = Promise.promise();
    long timer = vertx.setTimer(deadlineMs, t -> connected.tryFail(new ConnectException("no connection to " + bare
        + " within " + deadlineMs / 1000 + " s (name resolution and connect)")));
    net.connect(options).onComplete(ar -> {
      vertx.cancelTimer(timer);
      if (ar.failed()) {
        connected.tryFail(ar.cause());
      } else if (!connected.tryComplete(ar.result())) {
        ar.result().close(); // too late: the caller has moved on
      }
    });
    return connected.future().compose(s -> {
      DirectGet get = new DirectGet((NetSocketInternal) s);
      onConnect.accept(get::kill);
      return get.request(uri, tls, port, range, authorization, smallReads);
    });
  }

  private Future<FileAnswer> request(URI uri, boolean tls, int port, String range, String authorization, boolean smallReads) {
    // Reads of up to 1 MiB instead of Netty's 64 KiB: a sixteenth of the reads, writes and hand-overs
    // per byte (the event loop's CPU per GB halved on loopback). Set before the first read: the channel
    // keeps the allocator's handle from then on.
    // At most 4 reads per turn of the event loop (Netty's default is 16): what is read before a pause
    // takes effect stays within a few MiB per connection.
    AdaptiveRecvByteBufAllocator reads = smallReads
        ? new AdaptiveRecvByteBufAllocator(1 << 10, 16 << 10, 64 << 10) : new AdaptiveRecvByteBufAllocator(64 << 10, 256 << 10, 1 << 20);
    socket.channelHandlerContext().channel().config().setRecvByteBufAllocator(reads.maxMessagesPerRead(4));
    socket.messageHandler(this::message);
    socket.exceptionHandler(this::broken);
    socket.closeHandler(v -> closed());
    String target = (uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath())
        + (uri.getRawQuery() != null ? "?" + uri.getRawQuery() : "");
    boolean defaultPort = port == (tls ? 443 : 80);
    StringBuilder req = new StringBuilder(256)
        .append("GET ").append(target).append(" HTTP/1.1\r\n")
        .append("Host: ").append(uri.getHost()).append(defaultPort ? "" : ":" + port).append("\r\n")
        .append("User-Agent: hoist/0.1\r\nAccept: */*\r\nAccept-Encoding: identity\r\nConnection: close\r\n");
    if (range != null) {
      req.append("Range: ").append(range).append("\r\n");
    }
    if (authorization != null) {
      req.append("Authorization: ").append(authorization).append("\r\n");
    }
    String text = req.append("\r\n").toString();
    if (lineBreak(target) || lineBreak(range) || lineBreak(authorization)) {
      kill();
      return Future.failedFuture(new HoistException(ErrorCode.HUB_ERROR, "refusing to send a request with a line break in it"));
    }
    socket.write(Buffer.buffer(text.getBytes(StandardCharsets.ISO_8859_1)));
    return head.future();
  }

  private static boolean lineBreak(String s) {
    return s != null && (s.indexOf('\r') >= 0 || s.indexOf('\n') >= 0);
  }

  // ------------------------------------------------------------------ FileAnswer

  @Override
  public int status() {
    return status;
  }

  @Override
  public String header(String name) {
    return headers.get(name);
  }

  @Override
  public void body(Handler<ByteBuf> data, Handler<Void> end, Handler<Throwable> error) {
    this.data = data;
    this.end = end;
    this.error = error;
    if (failure == null && length < 0) {
      failure = new NotDirect("the hub's answer has no Content-Length");
      finish();
    }
    if (failure != null) {
      Throwable why = failure;
      failure = null;
      error.handle(why);
      return;
    }
    resume();
  }

  @Override
  public void pause() {
    paused = true;
    autoRead(false);
  }

  @Override
  public void resume() {
    paused = false;
    if (!finished) {
      autoRead(true);
    }
    drain();
  }

  /**
   * Pauses and resumes reading on the channel itself, not through {@code NetSocket.pause()}: a paused
   * NetSocket queues what was already read and may report the connection's end before that queue is
   * delivered, which would cut a body that in fact arrived whole.
   */
  private void autoRead(boolean on) {
    socket.channelHandlerContext().channel().config().setAutoRead(on);
  }

  @Override
  public void discard() {
    finish();
  }

  @Override
  public void kill() {
    if (!head.future().isComplete()) {
      head.tryFail(new IOException("the connection to the hub was closed before it answered"));
    }
    fail(new IOException("the connection to the hub was reset"));
  }

  // ------------------------------------------------------------------ the connection's events

  private void message(Object msg) {
    if (!(msg instanceof ByteBuf)) {
      ReferenceCountUtil.release(msg);
      return;
    }
    ByteBuf buf = (ByteBuf) msg;
    if (finished) {
      buf.release();
    } else if (!head.future().isComplete()) {
      readHead(buf);
    } else {
      take(buf);
    }
  }

  /** Gathers the status line and headers (copied: they are small), then hands what follows to the body. */
  private void readHead(ByteBuf buf) {
    if (headBytes == null) {
      headBytes = Unpooled.buffer(Math.min(MAX_HEAD, Math.max(1024, buf.readableBytes())));
    }
    int searchFrom = Math.max(headBytes.readerIndex(), headBytes.writerIndex() - 3);
    headBytes.writeBytes(buf);
    buf.release();
    while (!head.future().isComplete()) {
      int at = ByteBufUtil.indexOf(END_OF_HEAD, headBytes.slice(searchFrom, headBytes.writerIndex() - searchFrom));
      if (at < 0) {
        if (headBytes.readableBytes() > MAX_HEAD) {
          giveUp(new HoistException(ErrorCode.HUB_ERROR, "the hub's answer had no end of headers within " + (MAX_HEAD >> 10) + " KiB"));
        }
        return;
      }
      int endOfHead = searchFrom + at;
      String text = headBytes.toString(headBytes.readerIndex(), endOfHead - headBytes.readerIndex(), StandardCharsets.ISO_8859_1);
      headBytes.readerIndex(endOfHead + 4);
      if (!parse(text)) {
        return;
      }
      if (status >= 100 && status < 200) { // an interim answer (103 Early Hints, say): the real one follows
        status = 0;
        headers.clear();
        searchFrom = headBytes.readerIndex();
        continue;
      }
      if ((status == 200 || status == 206) && length < 0) {
        giveUp(new NotDirect("the hub sent a body without Content-Length (" + headers.getOrDefault("Transfer-Encoding", "read to the end") + ")"));
        return;
      }
      ByteBuf rest = headBytes.readableBytes() > 0 ? headBytes.retainedSlice() : null;
      headBytes.release();
      headBytes = null;
      autoRead(false); // until the caller has looked at the head and asks for the body
      head.tryComplete(this);
      if (rest != null) {
        take(rest);
      }
    }
  }

  /** Parses a head; false (the answer given up) when it is not HTTP/1.x. */
  private boolean parse(String text) {
    String[] lines = text.split("\r\n", -1);
    Matcher m = STATUS_LINE.matcher(lines[0]);
    if (!m.matches()) {
      giveUp(new HoistException(ErrorCode.HUB_ERROR, "the hub's answer does not start with an HTTP/1.1 status line"));
      return false;
    }
    status = Integer.parseInt(m.group(1));
    for (int i = 1; i < lines.length; i++) {
      String line = lines[i];
      int colon = line.indexOf(':');
      if (colon <= 0) {
        giveUp(new HoistException(ErrorCode.HUB_ERROR, "the hub's answer has a malformed header line"));
        return false;
      }
      String name = line.substring(0, colon).trim();
      String value = line.substring(colon + 1).trim();
      String before = headers.putIfAbsent(name, value);
      if (before != null && name.equalsIgnoreCase("Content-Length") && !before.equals(value)) {
        giveUp(new HoistException(ErrorCode.HUB_ERROR, "the hub's answer has two different Content-Length headers"));
        return false;
      }
    }
    String contentLength = headers.get("Content-Length");
    if (status == 204 || status == 304) {
      length = 0;
    } else if (headers.containsKey("Transfer-Encoding")) {
      length = -1;
    } else {
      length = contentLength != null && contentLength.matches("\\d{1,18}") ? Long.parseLong(contentLength) : -1;
    }
    return true;
  }

  /** Body bytes from the connection: up to the announced length, delivered or kept while paused. */
  private void take(ByteBuf buf) {
    long left = length - received;
    if (left <= 0) {
      buf.release(); // beyond the body: never ours
      return;
    }
    if (buf.readableBytes() > left) {
      ByteBuf part = buf.retainedSlice(buf.readerIndex(), (int) left);
      buf.release();
      buf = part;
    }
    received += buf.readableBytes();
    backlog.add(buf);
    drain();
  }

  /** Hands waiting buffers to the reader while it is not paused; ends the body once every byte went. */
  private void drain() {
    if (draining) {
      return;
    }
    draining = true;
    try {
      while (!paused && data != null && !finished && !backlog.isEmpty()) {
        data.handle(backlog.poll());
      }
      if (!finished && data != null && backlog.isEmpty() && length >= 0 && received == length) {
        finish();
        end.handle(null);
      }
    } finally {
      draining = false;
    }
  }

  private void broken(Throwable err) {
    if (!head.future().isComplete()) {
      giveUp(err);
    } else {
      fail(err);
    }
  }

  private void closed() {
    if (!head.future().isComplete()) {
      giveUp(new EOFException("the hub closed the connection before answering"));
    } else if (!finished && received < length) {
      fail(new EOFException("the hub closed the connection after " + received + " of " + length + " bytes"));
    }
    // else: every byte came; the rest of the backlog still goes to the reader as it asks
  }

  /** The head could not be read: the request fails with {@code why}. */
  private void giveUp(Throwable why) {
    head.tryFail(why);
    finish();
  }

  /** The body fails with {@code why} (told to the reader now, or when it asks for the body). */
  private void fail(Throwable why) {
    if (finished) {
      return;
    }
    finish();
    if (error != null) {
      error.handle(why);
    } else if (head.future().isComplete()) {
      failure = why;
    }
  }

  /** Nothing more is delivered; what is waiting is released and the connection closed. */
  private void finish() {
    finished = true;
    ByteBuf b;
    while ((b = backlog.poll()) != null) {
      b.release();
    }
    if (headBytes != null) {
      headBytes.release();
      headBytes = null;
    }
    socket.close();
  }
}

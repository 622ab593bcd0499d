package dev.hoist.download;

import io.netty.buffer.ByteBuf;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.internal.buffer.BufferInternal;

/**
 * A hub's answer to a GET for a file's bytes, whichever connection brought it: Hoist's own lean
 * HTTP/1.1 reader ({@link DirectGet}) or Vert.x's HTTP client ({@link #of(HttpClientResponse)}). It
 * arrives paused, with its status and headers; the body flows once {@link #body} is called.
 */
interface FileAnswer {

  int status();

  /** The first value of a header, or null. */
  String header(String name);

  /**
   * Starts the body. Each buffer handed to {@code data} is the handler's to release; then exactly
   * one of {@code end} (every announced byte came) or {@code error}.
   */
  void body(Handler<ByteBuf> data, Handler<Void> end, Handler<Throwable> error);

  void pause();

  void resume();

  /** Drops an unwanted body: a small one is read (a pooled connection stays usable), a large one closes it. */
  void discard();

  /** Closes the connection now (a stall, a cancel, bytes we refuse). */
  void kill();

  /** The same, over Vert.x's HTTP client: its heap buffers need no release (releasing them does nothing). */
  static FileAnswer of(HttpClientResponse resp) {
    return new FileAnswer() {
      @Override
      public int status() {
        return resp.statusCode();
      }

      @Override
      public String header(String name) {
        return resp.getHeader(name);
      }

      @Override
      public void body(Handler<ByteBuf> data, Handler<Void> end, Handler<Throwable> error) {
        resp.handler(buf -> data.handle(((BufferInternal) buf).getByteBuf()));
        resp.exceptionHandler(error);
        resp.endHandler(end);
        resp.resume();
      }

      @Override
      public void pause() {
        resp.pause();
      }

      @Override
      public void resume() {
        resp.resume();
      }

      @Override
      public void discard() {
        HubFiles.discard(resp);
      }

      @Override
      public void kill() {
        resp.request().reset();
      }
    };
  }
}

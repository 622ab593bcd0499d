package dev.hoist.gateway;

import dev.hoist.HoistConfig;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.JdkSSLEngineOptions;
import io.vertx.core.net.OpenSSLEngineOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.SelfSignedCertificate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTPS and WSS: a PEM certificate and key from configuration, or a self-signed certificate for
 * development (HOIST_TLS_SELF_SIGNED). OpenSSL (netty-tcnative, BoringSSL) when it loads, else the
 * JDK's engine with a warning.
 */
final class Tls {

  private static final Logger log = LoggerFactory.getLogger(Tls.class);

  private Tls() {
  }

  static HttpServerOptions configure(HttpServerOptions options, HoistConfig config) {
    if (config.tlsCert() == null && !config.tlsSelfSigned()) {
      return options;
    }
    options.setSsl(true);
    if (config.tlsCert() != null) {
      options.setKeyCertOptions(new PemKeyCertOptions().setCertPath(config.tlsCert()).setKeyPath(config.tlsKey()));
    } else {
      SelfSignedCertificate certificate = SelfSignedCertificate.create("localhost");
      options.setKeyCertOptions(certificate.keyCertOptions());
      log.warn("TLS with a self-signed certificate for 'localhost': for development only; browsers will warn");
    }
    if (OpenSSLEngineOptions.isAvailable()) {
      options.setSslEngineOptions(new OpenSSLEngineOptions());
      log.info("TLS on the OpenSSL engine");
    } else {
      options.setSslEngineOptions(new JdkSSLEngineOptions());
      log.warn("OpenSSL (netty-tcnative) is not available on this platform; TLS falls back to the JDK engine");
    }
    return options;
  }

  /** True when TLS would use OpenSSL here. */
  static boolean openSslAvailable() {
    return OpenSSLEngineOptions.isAvailable();
  }
}

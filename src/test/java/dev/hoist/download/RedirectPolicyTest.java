package dev.hoist.download;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import org.junit.jupiter.api.Test;

/** The SSRF rules for hub redirects, decided from URLs alone: no traffic leaves the test. */
class RedirectPolicyTest {

  private static final URI HTTPS_HUB = URI.create("https://huggingface.co");
  private static final URI HTTP_HUB = URI.create("http://127.0.0.1:8080/hub");

  @Test
  void aCdnOnTheSameSchemeIsFollowed() {
    assertThat(RedirectPolicy.refusal(HTTPS_HUB, URI.create("https://cdn-lfs.example.org/repos/ab/cd?x=1"))).isNull();
    assertThat(RedirectPolicy.refusal(HTTP_HUB, URI.create("http://127.0.0.2:9000/blob"))).isNull();
  }

  @Test
  void anHttpsHubNeverDowngradesToHttp() {
    assertThat(RedirectPolicy.refusal(HTTPS_HUB, URI.create("http://cdn.example.org/file"))).contains("from https to http");
  }

  @Test
  void linkLocalAndCloudMetadataTargetsAreRefused() {
    assertThat(RedirectPolicy.refusal(HTTPS_HUB, URI.create("https://169.254.169.254/latest/meta-data/"))).contains("link-local");
    assertThat(RedirectPolicy.refusal(HTTP_HUB, URI.create("http://169.254.169.254/latest/meta-data/"))).contains("link-local");
    assertThat(RedirectPolicy.refusal(HTTPS_HUB, URI.create("https://metadata.google.internal/computeMetadata/v1/"))).contains("metadata");
    assertThat(RedirectPolicy.refusal(HTTPS_HUB, URI.create("https://[fd00:ec2::254]/latest/"))).contains("IPv6");
    assertThat(RedirectPolicy.refusal(HTTPS_HUB, URI.create("https://[fe80::1]/x"))).contains("link-local");
  }
}

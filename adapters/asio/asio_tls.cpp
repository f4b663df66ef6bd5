// AsioIo: TLS. OpenSSL runs directly on the connection's non-blocking socket through a
// small BIO that uses send(MSG_NOSIGNAL)/recv (the stock socket BIO calls write(), which
// raises SIGPIPE on a reset peer); asio only tells us when the socket is ready.
#include <cassert>
#include <cerrno>
#include <cstdint>

#include <boost/asio/post.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include "adapters/asio/asio_internal.hpp"

namespace tern::adapters::asio {

namespace net = boost::asio;
using runtime::io_failure;
using runtime::IoErrc;
using runtime::IoStatus;
using runtime::TlsFacts;

namespace {

constexpr std::size_t kCertificatePemMax = 1 << 20;
constexpr std::size_t kPrivateKeyPemMax = 64 << 10;
constexpr std::size_t kServerNameMax = 253;
constexpr std::size_t kCommonNameMax = 64;

int fd_of(BIO* bio) {
  return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio)));
}

bool retryable(int error) {
  return error == EAGAIN || error == EWOULDBLOCK || error == EINTR;
}

int bio_write(BIO* bio, const char* data, int length) {
  BIO_clear_retry_flags(bio);
  const ssize_t n = ::send(fd_of(bio), data, static_cast<std::size_t>(length), MSG_NOSIGNAL);
  if (n < 0 && retryable(errno)) BIO_set_retry_write(bio);
  return static_cast<int>(n);
}

int bio_read(BIO* bio, char* data, int length) {
  BIO_clear_retry_flags(bio);
  const ssize_t n = ::recv(fd_of(bio), data, static_cast<std::size_t>(length), 0);
  if (n < 0 && retryable(errno)) BIO_set_retry_read(bio);
  return static_cast<int>(n);
}

long bio_ctrl(BIO*, int command, long, void*) {
  return command == BIO_CTRL_FLUSH ? 1 : 0;
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

// Built once and never freed: SSL objects that outlive an AsioIo still use it.
BIO_METHOD* socket_bio_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tern-socket");
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    return m;
  }();
  return method;
}

// The first queued OpenSSL error as text; clears the queue (it is per thread, shared by
// every connection).
std::string openssl_error(std::string_view what) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return std::string(what);
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return std::string(what) + ": " + text;
}

enum class SslStep { done, want_read, want_write, eof, failed };

SslStep classify(SSL* ssl, int ret, std::string& detail, std::string_view what) {
  const int saved_errno = errno;  // before SSL_get_error can change it
  const int error = SSL_get_error(ssl, ret);
  switch (error) {
    case SSL_ERROR_WANT_READ: return SslStep::want_read;
    case SSL_ERROR_WANT_WRITE: return SslStep::want_write;
    case SSL_ERROR_ZERO_RETURN: return SslStep::eof;
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0 && saved_errno == 0) return SslStep::eof;
      detail = saved_errno != 0 ? errno_detail(what, saved_errno) : openssl_error(what);
      ERR_clear_error();
      return SslStep::failed;
    default: detail = openssl_error(what); return SslStep::failed;
  }
}

bool is_ip_literal(const std::string& name) {
  boost::system::error_code ec;
  net::ip::make_address(name, ec);
  return !ec;
}

TlsFacts facts_of(SSL* ssl, bool client) {
  TlsFacts facts;
  facts.version = SSL_get_version(ssl);
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) {
    facts.cipher = SSL_CIPHER_get_name(cipher);
    facts.cipher_bits = SSL_CIPHER_get_bits(cipher, nullptr);
  }
  facts.peer_verified = client && SSL_get0_peer_certificate(ssl) != nullptr &&
                        SSL_get_verify_result(ssl) == X509_V_OK;
  return facts;
}

void harden(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // A peer that closes without close_notify is an ordinary eof: SMTP frames its own data.
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

}  // namespace

void SslFree::operator()(ssl_st* ssl) const {
  SSL_free(ssl);
}

bool ssl_has_pending(ssl_st* ssl) {
  return SSL_has_pending(ssl) == 1;
}

void tls_send_close_notify(ssl_st* ssl) {
  ERR_clear_error();
  if (SSL_is_init_finished(ssl)) SSL_shutdown(ssl);
  ERR_clear_error();
}

runtime::IoResult<runtime::TlsIdentityId> AsioIo::load_tls_identity(
    std::string_view certificate_pem, std::string_view private_key_pem) {
  if (certificate_pem.size() > kCertificatePemMax || private_key_pem.size() > kPrivateKeyPemMax) {
    return io_failure(IoErrc::invalid, "tls identity: PEM too large");
  }
  auto identity = std::make_shared<TlsIdentity>(net::ssl::context::tls_server);
  auto& context = identity->context;
  SSL_CTX* ctx = context.native_handle();
  harden(ctx);
  // An encrypted key must fail, not prompt on the terminal.
  context.set_password_callback(
      [](std::size_t, net::ssl::context::password_purpose) { return std::string(); });
  boost::system::error_code ec;
  context.use_certificate_chain(net::buffer(certificate_pem.data(), certificate_pem.size()), ec);
  if (ec) return io_failure(IoErrc::invalid, "tls identity: certificate: " + ec.message());
  context.use_private_key(net::buffer(private_key_pem.data(), private_key_pem.size()),
                          net::ssl::context::pem, ec);
  if (ec) return io_failure(IoErrc::invalid, "tls identity: private key: " + ec.message());
  ERR_clear_error();
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return io_failure(IoErrc::invalid, openssl_error("tls identity: key does not match"));
  }
  // No resumption: MTAs rarely resume, and each ticket costs both sides a session object.
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  static const unsigned char session_context[] = "tern";
  SSL_CTX_set_session_id_context(ctx, session_context, sizeof session_context - 1);
  const runtime::TlsIdentityId id = next_id_++;
  identities_.emplace(id, std::move(identity));
  return id;
}

void AsioIo::start_tls_server(runtime::ConnId id, runtime::TlsIdentityId identity,
                              TlsHandler on_done) {
  const ConnPtr conn = find_conn(id);
  if (!conn) return;
  const auto it = identities_.find(identity);
  const bool busy = conn->reading || conn->writing || conn->ssl;
  SSL* ssl =
      (it == identities_.end() || busy) ? nullptr : SSL_new(it->second->context.native_handle());
  if (ssl == nullptr) {
    net::post(context_, [conn, on_done = std::move(on_done), busy] {
      if (conn->closed) return;
      on_done(io_failure(IoErrc::invalid, busy ? "start_tls: connection busy or already TLS"
                                               : "start_tls: unknown identity"));
    });
    return;
  }
  SSL_set_accept_state(ssl);
  start_handshake(conn, ssl, std::move(on_done));
}

void AsioIo::start_tls_client(runtime::ConnId id, const runtime::TlsClientOptions& options,
                              TlsHandler on_done) {
  const ConnPtr conn = find_conn(id);
  if (!conn) return;
  if (!client_tls_) {
    client_tls_ = std::make_shared<TlsIdentity>(net::ssl::context::tls_client);
    harden(client_tls_->context.native_handle());
    boost::system::error_code ec;
    client_tls_->context.set_default_verify_paths(ec);  // no CA store: nothing verifies
  }
  const bool busy = conn->reading || conn->writing || conn->ssl;
  const std::string& name = options.server_name;
  SSL* ssl = (busy || name.size() > kServerNameMax) ? nullptr
                                                    : SSL_new(client_tls_->context.native_handle());
  if (ssl == nullptr) {
    net::post(context_, [conn, on_done = std::move(on_done)] {
      if (!conn->closed) on_done(io_failure(IoErrc::invalid, "start_tls: busy or bad name"));
    });
    return;
  }
  SSL_set_connect_state(ssl);
  if (!name.empty()) {
    if (is_ip_literal(name)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, name.c_str());
      SSL_set1_host(ssl, name.c_str());
    }
  }
  // Verification always runs (peer_verified reports it); only `verify` makes it fatal.
  SSL_set_verify(ssl, options.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  start_handshake(conn, ssl, std::move(on_done));
}

void AsioIo::start_handshake(const ConnPtr& conn, SSL* ssl, TlsHandler on_done) {
  BIO* bio = BIO_new(socket_bio_method());
  // The BIO's data slot carries the socket descriptor, never dereferenced: fd_of() casts it back.
  const auto fd = static_cast<std::intptr_t>(conn->socket.native_handle());
  BIO_set_data(bio, reinterpret_cast<void*>(fd));  // NOLINT(performance-no-int-to-ptr)
  SSL_set_bio(ssl, bio, bio);
  conn->ssl.reset(ssl);
  conn->handshake = std::make_unique<Conn::Handshake>(context_);
  conn->handshake->on_done = std::move(on_done);
  conn->handshake->timer.expires_after(std::chrono::nanoseconds(options_.handshake_timeout.ns));
  conn->handshake->timer.async_wait([this, conn](const boost::system::error_code& ec) {
    if (ec || conn->closed || !conn->handshake) return;
    boost::system::error_code ignored;
    conn->socket.cancel(ignored);
    finish_handshake(conn, io_failure(IoErrc::timeout, "tls handshake: timed out"));
  });
  net::post(context_, [this, conn] {
    if (!conn->closed) handshake_step(conn);
  });
}

void AsioIo::handshake_step(const ConnPtr& conn) {
  if (!conn->handshake) return;  // timed out meanwhile
  SSL* ssl = conn->ssl.get();
  ERR_clear_error();
  const int ret = SSL_do_handshake(ssl);
  if (ret == 1) {
    finish_handshake(conn, facts_of(ssl, SSL_is_server(ssl) == 0));
    return;
  }
  std::string detail;
  switch (classify(ssl, ret, detail, "tls handshake")) {
    case SslStep::want_read:
      wait_socket(conn, false, [this, conn] { handshake_step(conn); });
      return;
    case SslStep::want_write:
      wait_socket(conn, true, [this, conn] { handshake_step(conn); });
      return;
    case SslStep::eof: detail = "tls handshake: peer closed"; break;
    default: break;
  }
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK && SSL_is_server(ssl) == 0) {
    detail = std::string("tls handshake: certificate: ") + X509_verify_cert_error_string(verify);
  }
  finish_handshake(conn, io_failure(IoErrc::tls_failed, detail));
}

void AsioIo::finish_handshake(const ConnPtr& conn, runtime::IoResult<TlsFacts> result) {
  SSL_free_buffers(conn->ssl.get());  // an idle session keeps no 17 KiB record buffers
  auto handler = std::move(conn->handshake->on_done);
  conn->handshake.reset();
  handler(std::move(result));
}

void AsioIo::tls_read_attempt(const ConnPtr& conn) {
  SSL* ssl = conn->ssl.get();
  std::size_t n = 0;
  ERR_clear_error();
  const int ret = SSL_read_ex(ssl, read_buffer_.data(), read_buffer_.size(), &n);
  std::string detail;
  const SslStep step = ret == 1 ? SslStep::done : classify(ssl, ret, detail, "read");
  // A waiting session keeps no 17 KiB record buffer (this fails harmlessly while a record
  // is half read or decrypted bytes wait).
  SSL_free_buffers(ssl);
  switch (step) {
    case SslStep::done: deliver_read(conn, std::span<const char>(read_buffer_.data(), n)); return;
    case SslStep::want_read: wait_socket(conn, false, [this, conn] { read_attempt(conn); }); return;
    case SslStep::want_write: wait_socket(conn, true, [this, conn] { read_attempt(conn); }); return;
    case SslStep::eof: deliver_read(conn, io_failure(IoErrc::eof, "read: end of stream")); return;
    default: deliver_read(conn, io_failure(IoErrc::reset, detail)); return;
  }
}

void AsioIo::tls_write_attempt(const ConnPtr& conn) {
  if (!conn->writing) return;
  SSL* ssl = conn->ssl.get();
  while (!conn->write_rest.empty()) {
    std::size_t n = 0;
    ERR_clear_error();
    const int ret = SSL_write_ex(ssl, conn->write_rest.data(), conn->write_rest.size(), &n);
    if (ret == 1) {
      conn->write_rest = conn->write_rest.subspan(n);
      continue;
    }
    std::string detail;
    switch (classify(ssl, ret, detail, "write")) {
      case SslStep::want_read:
        wait_socket(conn, false, [this, conn] { tls_write_attempt(conn); });
        return;
      case SslStep::want_write:
        wait_socket(conn, true, [this, conn] { tls_write_attempt(conn); });
        return;
      default:
        finish_write(
            conn, IoStatus::failure(IoErrc::reset, detail.empty() ? "write: peer closed" : detail));
        return;
    }
  }
  SSL_free_buffers(ssl);
  finish_write(conn, IoStatus::success());
}

// ---- Self-signed identities.

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};

bool valid_host_name(std::string_view name) {
  if (name.empty() || name.size() > kServerNameMax) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == ':';
    if (!ok) return false;
  }
  return true;
}

bool add_extension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

bool set_random_serial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return false;
  bytes[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(bytes, sizeof bytes, nullptr);
  if (bn == nullptr) return false;
  const bool ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nullptr;
  BN_free(bn);
  return ok;
}

std::string pem_of(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

}  // namespace

runtime::IoResult<SelfSignedIdentity> generate_self_signed(std::string_view hostname) {
  if (!valid_host_name(hostname)) return io_failure(IoErrc::invalid, "self-signed: bad host name");
  const std::string host(hostname);
  const bool ip = is_ip_literal(host);
  if (!ip && host.find(':') != std::string::npos) {
    return io_failure(IoErrc::invalid, "self-signed: bad host name");
  }
  ERR_clear_error();
  std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_EC_gen("P-256"));
  std::unique_ptr<X509, X509Free> cert(X509_new());
  if (!key || !cert) return io_failure(IoErrc::tls_failed, openssl_error("self-signed: key"));
  X509* x = cert.get();
  X509_NAME* name = X509_get_subject_name(x);
  const bool ok = X509_set_version(x, 2) == 1 && set_random_serial(x) &&
                  X509_gmtime_adj(X509_getm_notBefore(x), -3600) != nullptr &&
                  X509_time_adj_ex(X509_getm_notAfter(x), 3653, 0, nullptr) != nullptr &&
                  X509_set_pubkey(x, key.get()) == 1 &&
                  (host.size() > kCommonNameMax ||  // X.509 caps a CN at 64; the SAN has the name
                   X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                              reinterpret_cast<const unsigned char*>(host.c_str()),
                                              -1, -1, 0) == 1) &&
                  X509_set_issuer_name(x, name) == 1 &&
                  add_extension(x, NID_subject_alt_name, (ip ? "IP:" : "DNS:") + host) &&
                  add_extension(x, NID_basic_constraints, "critical,CA:FALSE") &&
                  add_extension(x, NID_ext_key_usage, "serverAuth") &&
                  X509_sign(x, key.get(), EVP_sha256()) > 0;
  if (!ok) return io_failure(IoErrc::tls_failed, openssl_error("self-signed: certificate"));
  std::unique_ptr<BIO, BioFree> cert_bio(BIO_new(BIO_s_mem()));
  std::unique_ptr<BIO, BioFree> key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio || PEM_write_bio_X509(cert_bio.get(), x) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1) {
    return io_failure(IoErrc::tls_failed, openssl_error("self-signed: PEM"));
  }
  return SelfSignedIdentity{pem_of(cert_bio.get()), pem_of(key_bio.get())};
}

}  // namespace tern::adapters::asio

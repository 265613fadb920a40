#pragma once
// The HTTP/1.1 wire module: the one place where HTTP messages are parsed
// (with llhttp, strict) and written, and where the rules about which header
// fields belong to a connection live. Used by the daemon's connections
// (requests in, answers out), by the upstream client (requests out, answers
// in) and by MultiprocessHandler (requests to the daemon, its answers in).
//
// Private to the project: not installed, not part of the public API.
#include "prawmp/Export.h"
#include "prawmp/HttpHeaders.h"
#include "prawmp/Response.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QString>
#include <QVarLengthArray>

#include <functional>
#include <memory>

namespace prawmp::wire {

// ---------------------------------------------------------------- header rules

// RFC 9110 §5.6.2 token (a field name, a method).
PRAWMP_EXPORT bool isToken(QByteArrayView bytes);
// CR or LF: a value carrying one could inject fields (response splitting).
PRAWMP_EXPORT bool hasLineBreak(QByteArrayView bytes);
PRAWMP_EXPORT bool equalsNoCase(QByteArrayView a, QByteArrayView b);
// Connection, Content-Length, Transfer-Encoding: the message framing, which
// the serialisers below write themselves; a caller's values never reach the wire.
PRAWMP_EXPORT bool isFramingField(QByteArrayView name);
// Hop-by-hop fields (RFC 9110 §7.6.1 plus the de-facto Keep-Alive and
// Proxy-Connection): they describe one connection and are never forwarded.
PRAWMP_EXPORT bool isHopByHopField(QByteArrayView name);
// Fields a forwarded request never carries from the request it came from:
// the hop-by-hop ones, those the request line and framing decide (Host,
// Content-Length, Expect), and the credentials for the proxy itself.
PRAWMP_EXPORT bool isNeverForwardedRequestField(QByteArrayView name);
// Removes the hop-by-hop fields and those the Connection field names.
PRAWMP_EXPORT void removeHopByHop(HttpHeaders &headers);
// Removes what a forwarded request never carries from the one it came from:
// removeHopByHop() and the isNeverForwardedRequestField() fields.
PRAWMP_EXPORT void removeNeverForwarded(HttpHeaders &headers);
// Removes the fields a client sends for the daemon itself (X-Mp-App,
// X-Mp-Max-Wait): they go to the daemon, never to the upstream.
PRAWMP_EXPORT void removeDaemonFields(HttpHeaders &headers);

// An answer with this status has a body (possibly empty): not 1xx, 204 or 304.
PRAWMP_EXPORT bool statusHasBody(int status);

// Decimal (or other base) digits of `value`, appended without allocating a temporary.
PRAWMP_EXPORT void appendNumber(QByteArray &out, qint64 value, int base = 10);
// A non-negative decimal with optional surrounding whitespace, nothing else.
PRAWMP_EXPORT bool parseDecimal(QByteArrayView text, qint64 *value);
// The standard reason phrase of `status`, looked up once per status.
PRAWMP_EXPORT const QByteArray &reasonFor(int status);

// ---------------------------------------------------------------- serialisers

// One request as written to the next hop: request line, Host, the caller's
// end-to-end fields (never-forwarded ones and any with a line break or an
// invalid name dropped), `extra` fields (ours, e.g. Proxy-Authorization),
// Content-Length when there is a body or the method implies one, the body.
PRAWMP_EXPORT QByteArray serializeRequest(const QByteArray &method, const QByteArray &target,
                                          const QByteArray &host, const HttpHeaders &headers,
                                          const QByteArray &body, const HttpHeaders &extra = {});

struct ResponseFraming
{
    int versionMinor = 1;     // of the request answered
    bool headRequest = false; // HEAD: Content-Length of the body it would have
    bool close = false;       // the connection ends after this answer
    bool stream = false;      // the body follows in chunks (HTTP/1.1) or until close
};
// The status line and header block of an answer, framing fields ours: a
// Content-Length (for a HEAD answer relayed without body, the length the
// caller's Content-Length announces), Transfer-Encoding: chunked for a
// stream, and Connection as `framing` says.
PRAWMP_EXPORT void appendResponseHead(QByteArray &out, const Response &response,
                                      const ResponseFraming &framing);
// One piece of a streamed body: a chunk of the chunked coding (HTTP/1.1), or
// the bytes as they are (HTTP/1.0, where the body ends with the connection).
// An empty piece is not written: it would end a chunked body.
PRAWMP_EXPORT void appendStreamPiece(QByteArray &out, QByteArrayView data, bool chunked);
// The chunk that ends a chunked body.
PRAWMP_EXPORT QByteArrayView lastChunk();

// ---------------------------------------------------------------- parsers

// Why a message was refused: the status and code of the contract's JSON error.
struct WireError
{
    int status = 0;
    QString code;
    QString message;
    explicit operator bool() const { return status != 0; }
};

struct ParsedRequest
{
    QByteArray method;      // "GET", "CONNECT", "PURGE"...
    QByteArray target;      // request-target as sent
    int versionMinor = 1;   // HTTP/1.x
    HttpHeaders headers;
    QByteArray body;        // de-chunked
    bool keepAlive = true;  // the connection may carry another request after this one
};

// A header field as a view into the bytes given to RequestParser::parse().
struct FieldView
{
    QByteArrayView name;
    QByteArrayView value; // without surrounding whitespace
};

struct RequestLimits
{
    qsizetype maxHeaderBytes = 64 * 1024;      // -> 431
    qint64 maxBodyBytes = 32 * 1024 * 1024;    // -> 413
};

struct ParsedRequest;
// How the error answer to a refused request is framed: by its method and
// version as far as they were read, and the connection closes after it.
PRAWMP_EXPORT ResponseFraming refusalFraming(const ParsedRequest &request);

// Incremental, strict parser of the requests on one connection (keep-alive,
// pipelining, Content-Length and chunked bodies). Besides what llhttp
// refuses, it refuses what a proxy must not pass on ambiguously: a request
// line with more than one space between its parts, a field name that is no
// token (a space before the colon), obsolete line folding, Content-Length
// together with Transfer-Encoding, repeated Content-Length, any transfer
// coding but chunked. Stops after the header block of a request with a
// body and after each request, so that the caller acts on one request at
// a time.
class PRAWMP_EXPORT RequestParser
{
public:
    enum class Result {
        NeedMore,        // every byte given was consumed; no request ended
        HeadersComplete, // request() has its line and fields; a body follows
        MessageComplete, // request() is whole; takeRequest() it
        Error,           // error() says why; the connection cannot go on
    };

    explicit RequestParser(const RequestLimits &limits = {});
    ~RequestParser();
    RequestParser(const RequestParser &) = delete;
    RequestParser &operator=(const RequestParser &) = delete;

    void setLimits(const RequestLimits &limits);
    // Forgets everything parsed: the next byte starts a new connection's stream.
    void reset();
    // Borrowing: the target and fields are not copied into request() but
    // given as views (targetView(), fieldViews()) into the bytes passed to
    // parse(), valid while those bytes are and until the next request
    // begins. For a caller that has a whole request in one buffer (the
    // serving threads' read buffer); a request split across parse() calls
    // is then an error. Checks and limits are the same.
    void setBorrowing(bool borrow);
    QByteArrayView targetView() const;
    const QVarLengthArray<FieldView, 32> &fieldViews() const;
    // Parses from `data`; `*consumed` bytes were used (the rest is to be
    // given again, after the caller has handled the result).
    Result parse(const char *data, qsizetype size, qsizetype *consumed);

    // Inside a request (a byte of it was read, its end not yet).
    bool inMessage() const;
    // After HeadersComplete: a body follows (Content-Length > 0 or chunked).
    bool bodyExpected() const;
    // After HeadersComplete: "Expect: 100-continue" on an HTTP/1.1 request with a body.
    bool expectsContinue() const;
    const ParsedRequest &request() const;
    ParsedRequest takeRequest();
    const WireError &error() const;

private:
    struct Private;
    std::unique_ptr<Private> d;
};

// Incremental parser of one answer at a time (status line, fields, a body
// framed by Content-Length, chunked coding or the end of the connection;
// no body for HEAD, 1xx, 204, 304). Interim 1xx answers are skipped; 101
// is refused (we never ask to switch protocols).
class PRAWMP_EXPORT ResponseParser
{
public:
    enum class Status { NeedMore, Complete, Error };

    explicit ResponseParser(qsizetype maxHeadBytes = 1024 * 1024);
    ~ResponseParser();
    ResponseParser(const ResponseParser &) = delete;
    ResponseParser &operator=(const ResponseParser &) = delete;

    // For the answer to a new request; `headRequest`: it has no body.
    void reset(bool headRequest);
    Status feed(const char *data, qsizetype size);
    Status feed(const QByteArray &data) { return feed(data.constData(), data.size()); }
    // The peer closed: complete only if the body ran until the close.
    Status finishAtEof();

    Status status() const;
    bool sawBytes() const;
    bool headComplete() const;
    // The connection may carry another request (and nothing came after the answer).
    bool keepAlive() const;
    // Bytes came after the complete answer: nobody asked for them.
    bool extraBytes() const;
    const Response &response() const;
    // The answer, its body de-chunked (Transfer-Encoding removed).
    Response takeResponse();
    QString errorString() const;

    // Streaming (Server-Sent Events): called once the final head is read;
    // body bytes then go to onBody instead of the response.
    std::function<void()> onHead;
    std::function<void(const QByteArray &)> onBody;

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace prawmp::wire

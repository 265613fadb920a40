#include "HttpConnection.h"

#include "prawmp/JsonResponses.h"

#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QPointer>
#include <QSslSocket>
#include <QTcpSocket>
#include <QTimer>

#include <http_parser.h>

#include <array>
#include <atomic>
#include <charconv>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <vector>

#ifdef Q_OS_UNIX
#include <sys/socket.h>
#endif

namespace prawmp {

namespace {

Q_LOGGING_CATEGORY(lcHttpConnection, "prawmp.http", QtInfoMsg)

// Once the last answer is out we half-close and keep reading (and
// dropping) what the peer still sends for this long, so that unread input
// does not turn our close into a reset that destroys the answer in flight
// (the "lingering close" of Apache and nginx).
constexpr int kLingerMs = 2000;
// The peer does not read its answers: stop parsing its pipelined requests
// until the socket buffer drains.
constexpr qint64 kMaxPendingOutput = 4 * 1024 * 1024;
// A Server-Sent Events consumer this far behind is dropped.
constexpr qint64 kMaxStreamBacklog = 16 * 1024 * 1024;
// QTcpSocket's own buffer; bounded so that a paused connection pushes back
// on the peer through TCP instead of filling our memory.
constexpr qint64 kSocketReadBuffer = 1024 * 1024;
// Do not pre-allocate more than this on the word of a Content-Length.
constexpr qint64 kMaxBodyReserve = 1024 * 1024;
// Request line bytes http-parser does not hand to a callback ("GET ", " HTTP/1.1\r\n").
constexpr qsizetype kRequestLineOverhead = 16;

const QByteArray kContinue = QByteArrayLiteral("HTTP/1.1 100 Continue\r\n\r\n");
const QByteArray kCrLf = QByteArrayLiteral("\r\n");
const QByteArray kLastChunk = QByteArrayLiteral("0\r\n\r\n");

std::atomic<quint64> s_nextConnectionId{1};

qint64 nowMs()
{
    static const QElapsedTimer clock = [] {
        QElapsedTimer t;
        t.start();
        return t;
    }();
    return clock.elapsed();
}

// Reason phrases looked up once: the per-answer path must not allocate for them.
const QByteArray &cachedReason(int status)
{
    static const std::vector<QByteArray> table = [] {
        std::vector<QByteArray> t(600);
        for (int s = 100; s < 600; ++s)
            t[size_t(s)] = reasonPhrase(s);
        return t;
    }();
    static const QByteArray unknown = reasonPhrase(0);
    return status >= 100 && status < 600 ? table[size_t(status)] : unknown;
}

bool equalsNoCase(const QByteArray &a, QByteArrayView b)
{
    return a.size() == b.size() && a.compare(b, Qt::CaseInsensitive) == 0;
}

// Framing and connection management are ours: a handler's (or upstream's)
// values for these must never reach the wire.
bool isFramingField(const QByteArray &name)
{
    switch (name.size()) {
    case 10:
        return equalsNoCase(name, "connection");
    case 14:
        return equalsNoCase(name, "content-length");
    case 17:
        return equalsNoCase(name, "transfer-encoding");
    default:
        return false;
    }
}

// CR or LF in a field would let a value inject headers (response splitting).
bool hasLineBreak(const QByteArray &bytes)
{
    for (char c : bytes) {
        if (c == '\r' || c == '\n')
            return true;
    }
    return false;
}

void appendNumber(QByteArray &out, qint64 value, int base = 10)
{
    char buffer[24];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value, base);
    out.append(buffer, result.ptr - buffer);
}

// RFC 9110 token: http-parser lets "Name :" and " Name:" through, which
// a server must refuse (RFC 9112 §5.1) lest another hop read them otherwise.
bool isToken(const QByteArray &name)
{
    static const auto table = [] {
        std::array<bool, 256> t{};
        for (int c = '0'; c <= '9'; ++c)
            t[size_t(c)] = true;
        for (int c = 'a'; c <= 'z'; ++c)
            t[size_t(c)] = t[size_t(c - 'a' + 'A')] = true;
        for (char c : QByteArrayView("!#$%&'*+-.^_`|~"))
            t[uchar(c)] = true;
        return t;
    }();
    if (name.isEmpty())
        return false;
    for (char c : name) {
        if (!table[uchar(c)])
            return false;
    }
    return true;
}

// Bytes written to the socket that have not reached the kernel yet. Over
// TLS, QSslSocket::bytesToWrite() counts only those still to be encrypted;
// the encrypted ones waiting in its plain socket count as well.
qint64 pendingOutput(const QTcpSocket *socket)
{
    qint64 n = socket->bytesToWrite();
    if (const auto *tls = qobject_cast<const QSslSocket *>(socket))
        n += tls->encryptedBytesToWrite();
    return n;
}

struct SignalScope
{
    std::shared_ptr<int> depth;
    explicit SignalScope(std::shared_ptr<int> d) : depth(std::move(d)) { ++*depth; }
    ~SignalScope() { --*depth; }
};

bool parseDecimal(QByteArrayView text, qint64 *value)
{
    text = text.trimmed();
    if (text.isEmpty())
        return false;
    qint64 v = 0;
    const auto result = std::from_chars(text.data(), text.data() + text.size(), v);
    if (result.ec != std::errc() || result.ptr != text.data() + text.size() || v < 0)
        return false;
    *value = v;
    return true;
}

} // namespace

struct HttpConnection::Private
{
    enum class State { Open, Closing, Lingering, Closed };
    enum class Deadline { None, Header, Body, Idle, Drain, Linger };

    // One answer slot per parsed request, in sequence order. An answer given
    // before its turn is serialized into its slot and waits there.
    struct Slot
    {
        QByteArray head;        // status line and header block, ready to write
        QByteArray body;        // shared with the caller's Response, not copied
        QByteArray interim;     // "100 Continue" owed before the answer
        QByteArray streamData;  // stream chunks given before the head went out
        int versionMinor = 1;
        bool headRequest = false;
        bool keepAlive = true;
        bool ready = false;
        bool stream = false;
        bool closeAfter = false;
    };

    HttpConnection *q = nullptr;
    QTcpSocket *socket = nullptr;
    HttpLimits limits;
    quint64 id = 0;
    QHostAddress peerAddress;
    quint16 peerPort = 0;
    qint64 received = 0;
    qint64 sent = 0;
    State state = State::Open;

    // Input.
    http_parser parser;
    QByteArray input;
    qsizetype inputPos = 0;
    bool processing = false;   // inside processInput(): do not re-enter
    bool blocked = false;      // parsing paused for back-pressure
    bool resumeQueued = false;
    bool stopParsing = false;  // no further request will be read

    // The message being parsed.
    IncomingRequest current;
    bool inMessage = false;
    bool headersDone = false;
    bool messageReady = false;
    bool hasSlot = false;
    enum class HeaderPart { None, Field, Value } headerPart = HeaderPart::None;
    QByteArray field;
    QByteArray value;
    const char *parseEnd = nullptr;   // end of the bytes given to http-parser
    bool valueEndedMidBuffer = false; // the last value piece ended at its line's end
    qsizetype headerBytes = 0;
    int contentLengthFields = 0;
    int transferEncodingFields = 0;
    bool transferEncodingChunked = true;
    bool expectContinue = false;
    // An error found by a callback, answered once http_parser_execute returns.
    int failStatus = 0;
    QString failCode;
    QString failMessage;

    // Output.
    std::deque<Slot> answers;
    quint64 firstSeq = 1;   // sequence of answers.front()
    quint64 nextSeq = 1;    // sequence of the next request
    QByteArray headBuffer;  // reused for answers written at once
    bool streaming = false;
    bool streamChunked = false;
    quint64 streamSeq = 0;

    // Timeouts: one timer, re-armed lazily (see updateTimer()).
    QTimer timer;
    qint64 timerDue = -1;
    qint64 now = 0;            // clock at the last read
    qint64 headerDeadline = -1;
    qint64 lastReceive = 0;
    qint64 idleSince = 0;
    qint64 drainProgress = 0;
    qint64 lingerDeadline = -1;

    // How deep we are in the socket's own signals. Only outside of them may
    // the destructor delete the socket at once; shared, because a handler
    // may delete us inside one.
    std::shared_ptr<int> socketSignals = std::make_shared<int>(0);

    static const http_parser_settings settings;
    static Private *priv(http_parser *p) { return static_cast<Private *>(p->data); }

    explicit Private(HttpConnection *owner) : q(owner), timer(owner) {}

    // Parsing.
    void processInput();
    bool isBlocked() const;
    void scheduleResume();
    void discardInput();
    void beginMessage();
    bool addHeaderBytes(qsizetype n);
    bool flushHeaderField();
    int headersComplete();
    int bodyData(const char *at, size_t length);
    int chunkHeader();
    int messageComplete();
    int failInCallback(int status, const QString &code, const QString &message);
    void failFromParser(http_errno error);
    void fail(int status, const QString &code, const QString &message);

    // Writing.
    Slot *slotFor(quint64 sequence);
    quint64 openSlot(bool headRequest, bool keepAlive, int versionMinor);
    void answer(quint64 sequence, const Response &response, bool stream);
    void serializeHead(QByteArray &out, const Response &response, const Slot &slot,
                       bool close, bool stream) const;
    void write(const QByteArray &bytes);
    void writeChunk(const QByteArray &data);
    void writeSlot(Slot &slot);
    void flushReady();
    void startStreaming(quint64 sequence, int versionMinor, bool headRequest, const QByteArray &pending);

    // Closing.
    void beginClose();
    void halfClose();
    void finish(bool flushFirst);
    void detachSocket(bool flushFirst);

    // Timeouts.
    Deadline nextDeadline(qint64 *due) const;
    void updateTimer();
    void onTimer();

    // Socket signals.
    void onReadyRead();
    void onBytesWritten(qint64 bytes);
    void onDisconnected();
};

const http_parser_settings HttpConnection::Private::settings = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_message_begin = [](http_parser *p) -> int {
        priv(p)->beginMessage();
        return 0;
    };
    s.on_url = [](http_parser *p, const char *at, size_t length) -> int {
        Private *d = priv(p);
        if (!d->addHeaderBytes(qsizetype(length)))
            return 1;
        d->current.target.append(at, qsizetype(length));
        return 0;
    };
    s.on_header_field = [](http_parser *p, const char *at, size_t length) -> int {
        Private *d = priv(p);
        if (!d->addHeaderBytes(qsizetype(length)))
            return 1;
        if (d->headersDone)
            return 0; // chunked trailer fields: counted, not kept
        switch (d->headerPart) {
        case HeaderPart::Value:
            if (!d->flushHeaderField())
                return 1;
            [[fallthrough]];
        case HeaderPart::None:
            d->field = QByteArray(at, qsizetype(length));
            d->headerPart = HeaderPart::Field;
            break;
        case HeaderPart::Field:
            d->field.append(at, qsizetype(length));
            break;
        }
        return 0;
    };
    s.on_header_value = [](http_parser *p, const char *at, size_t length) -> int {
        Private *d = priv(p);
        if (!d->addHeaderBytes(qsizetype(length)))
            return 1;
        if (d->headersDone)
            return 0;
        if (d->headerPart == HeaderPart::Field) {
            d->value = QByteArray(at, qsizetype(length));
            d->headerPart = HeaderPart::Value;
        } else if (d->valueEndedMidBuffer) {
            // The value went on after its line ended: obsolete line folding,
            // refused as RFC 9112 §5.2 allows (it hides fields from checks).
            d->failInCallback(400, QStringLiteral("bad_request"),
                              QStringLiteral("Folded header lines are refused."));
            return 1;
        } else {
            d->value.append(at, qsizetype(length)); // split across reads
        }
        d->valueEndedMidBuffer = at + length != d->parseEnd;
        return 0;
    };
    s.on_headers_complete = [](http_parser *p) -> int { return priv(p)->headersComplete(); };
    s.on_body = [](http_parser *p, const char *at, size_t length) -> int {
        return priv(p)->bodyData(at, length);
    };
    s.on_chunk_header = [](http_parser *p) -> int { return priv(p)->chunkHeader(); };
    s.on_message_complete = [](http_parser *p) -> int { return priv(p)->messageComplete(); };
    return s;
}();

// ---------------------------------------------------------------- parsing

void HttpConnection::Private::beginMessage()
{
    inMessage = true;
    headersDone = false;
    hasSlot = false;
    headerPart = HeaderPart::None;
    headerBytes = kRequestLineOverhead;
    contentLengthFields = 0;
    transferEncodingFields = 0;
    transferEncodingChunked = true;
    expectContinue = false;
    // The first request keeps the deadline counted from connect.
    if (headerDeadline < 0)
        headerDeadline = now + limits.headerTimeoutMs;
}

bool HttpConnection::Private::addHeaderBytes(qsizetype n)
{
    headerBytes += n;
    if (headerBytes <= limits.maxHeaderBytes)
        return true;
    failInCallback(431, QStringLiteral("headers_too_large"),
                   QStringLiteral("The request header block exceeds %1 bytes.")
                       .arg(limits.maxHeaderBytes));
    return false;
}

bool HttpConnection::Private::flushHeaderField()
{
    if (headerPart == HeaderPart::None)
        return true;
    if (headerPart == HeaderPart::Field)
        value.clear();
    if (!isToken(field)) {
        failInCallback(400, QStringLiteral("bad_request"),
                       QStringLiteral("Invalid header field name."));
        return false;
    }
    headerBytes += 4; // ": " and CRLF
    // Tracked here rather than trusted to http-parser: framing must be
    // unambiguous or the request is refused (request smuggling).
    switch (field.size()) {
    case 6:
        if (equalsNoCase(field, "expect"))
            expectContinue = QByteArrayView(value).trimmed().compare("100-continue", Qt::CaseInsensitive) == 0;
        break;
    case 14:
        if (equalsNoCase(field, "content-length"))
            ++contentLengthFields;
        break;
    case 17:
        if (equalsNoCase(field, "transfer-encoding")) {
            ++transferEncodingFields;
            if (QByteArrayView(value).trimmed().compare("chunked", Qt::CaseInsensitive) != 0)
                transferEncodingChunked = false;
        }
        break;
    default:
        break;
    }
    current.headers.add(field, value);
    headerPart = HeaderPart::None;
    return true;
}

int HttpConnection::Private::headersComplete()
{
    if (!flushHeaderField() || !addHeaderBytes(0))
        return -1;
    headersDone = true;
    headerDeadline = -1;

    const auto method = http_method(parser.method);
    const char *methodName = http_method_str(method);
    current.method = QByteArray::fromRawData(methodName, qsizetype(qstrlen(methodName)));
    current.versionMinor = parser.http_minor;
    current.keepAlive = http_should_keep_alive(&parser) != 0 && method != HTTP_CONNECT;

    // The slot first, so that an error below answers this very request.
    current.sequence = openSlot(method == HTTP_HEAD, current.keepAlive, parser.http_minor);
    hasSlot = true;

    if (parser.http_major == 0) {
        return failInCallback(400, QStringLiteral("bad_request"),
                              QStringLiteral("The request line lacks an HTTP/1.x version."));
    }
    if (parser.http_major != 1) {
        return failInCallback(505, QStringLiteral("http_version_not_supported"),
                              QStringLiteral("Only HTTP/1.0 and HTTP/1.1 are spoken here."));
    }
    if (contentLengthFields > 0 && transferEncodingFields > 0) {
        return failInCallback(400, QStringLiteral("bad_request"),
                              QStringLiteral("Content-Length and Transfer-Encoding together are refused."));
    }
    if (contentLengthFields > 1) {
        return failInCallback(400, QStringLiteral("bad_request"),
                              QStringLiteral("More than one Content-Length is refused."));
    }
    if (transferEncodingFields > 1 || !transferEncodingChunked) {
        return failInCallback(400, QStringLiteral("bad_request"),
                              QStringLiteral("Only \"Transfer-Encoding: chunked\" is accepted."));
    }

    const bool chunked = transferEncodingFields == 1;
    qint64 contentLength = 0;
    if (contentLengthFields == 1) {
        if (!parseDecimal(current.headers.value("Content-Length"), &contentLength)) {
            return failInCallback(400, QStringLiteral("bad_request"),
                                  QStringLiteral("Invalid Content-Length."));
        }
        if (contentLength > limits.maxBodyBytes) {
            return failInCallback(413, QStringLiteral("body_too_large"),
                                  QStringLiteral("The request body exceeds %1 bytes.")
                                      .arg(limits.maxBodyBytes));
        }
        if (contentLength > 0)
            current.body.reserve(qsizetype(qMin(contentLength, kMaxBodyReserve)));
    }

    if (expectContinue && parser.http_minor >= 1 && (chunked || contentLength > 0)) {
        Slot &slot = answers.back();
        if (answers.size() == 1)
            write(kContinue);
        else
            slot.interim = kContinue; // after the answers still owed
    }
    return 0;
}

int HttpConnection::Private::bodyData(const char *at, size_t length)
{
    if (current.body.size() + qint64(length) > limits.maxBodyBytes) {
        return failInCallback(413, QStringLiteral("body_too_large"),
                              QStringLiteral("The request body exceeds %1 bytes.")
                                  .arg(limits.maxBodyBytes));
    }
    current.body.append(at, qsizetype(length));
    return 0;
}

int HttpConnection::Private::chunkHeader()
{
    // parser.content_length holds the size of the chunk announced.
    if (parser.content_length > quint64(limits.maxBodyBytes)
        || current.body.size() + qint64(parser.content_length) > limits.maxBodyBytes) {
        return failInCallback(413, QStringLiteral("body_too_large"),
                              QStringLiteral("The request body exceeds %1 bytes.")
                                  .arg(limits.maxBodyBytes));
    }
    return 0;
}

int HttpConnection::Private::messageComplete()
{
    inMessage = false;
    messageReady = true;
    // One request at a time: it is emitted outside of http-parser's stack,
    // where its handler may answer, close or delete us.
    http_parser_pause(&parser, 1);
    return 0;
}

int HttpConnection::Private::failInCallback(int status, const QString &code, const QString &message)
{
    if (failStatus == 0) {
        failStatus = status;
        failCode = code;
        failMessage = message;
    }
    return -1;
}

void HttpConnection::Private::failFromParser(http_errno error)
{
    if (failStatus != 0) {
        const int status = failStatus;
        failStatus = 0;
        fail(status, failCode, failMessage);
        return;
    }
    if (error == HPE_HEADER_OVERFLOW) {
        fail(431, QStringLiteral("headers_too_large"),
             QStringLiteral("The request header block is too large."));
        return;
    }
    fail(400, QStringLiteral("bad_request"),
         QStringLiteral("Malformed request: %1.").arg(QLatin1String(http_errno_description(error))));
}

// Refuses the request being read: the error takes its place in the answer
// order, and the connection closes once it is written.
void HttpConnection::Private::fail(int status, const QString &code, const QString &message)
{
    if (state != State::Open || stopParsing)
        return;
    qCDebug(lcHttpConnection) << "connection" << id << "refuses a request:" << status << message;
    stopParsing = true;
    // The request being read keeps its place if it has one; no slot after
    // it exists yet, since requests are numbered in order.
    quint64 sequence = inMessage && hasSlot && slotFor(current.sequence) ? current.sequence
                                                                         : openSlot(false, false, 1);
    inMessage = false;
    headerDeadline = -1;
    input.clear();
    inputPos = 0;
    Slot *slot = slotFor(sequence);
    slot->closeAfter = true;
    slot->interim.clear();
    answer(sequence, jsonError(status, code, message), false);
}

bool HttpConnection::Private::isBlocked() const
{
    if (inMessage)
        return false; // only ever pause between requests
    return answers.size() >= size_t(qMax(1, limits.maxPipelinedRequests))
           || (socket && pendingOutput(socket) > kMaxPendingOutput);
}

void HttpConnection::Private::scheduleResume()
{
    if (resumeQueued)
        return;
    resumeQueued = true;
    QMetaObject::invokeMethod(q, [this] {
        resumeQueued = false;
        processInput();
    }, Qt::QueuedConnection);
}

void HttpConnection::Private::discardInput()
{
    input.clear();
    inputPos = 0;
    if (!socket)
        return;
    const qint64 available = socket->bytesAvailable();
    if (available > 0) {
        received += available;
        socket->skip(available);
    }
}

void HttpConnection::Private::processInput()
{
    if (processing || !socket)
        return;
    processing = true;
    QPointer<HttpConnection> guard(q);
    for (;;) {
        if (state != State::Open || stopParsing) {
            if (socket)
                discardInput();
            break;
        }
        if (isBlocked()) {
            blocked = true;
            break;
        }
        if (inputPos >= input.size()) {
            inputPos = 0;
            input = socket->readAll();
            if (input.isEmpty())
                break;
            received += input.size();
            now = nowMs();
            lastReceive = now;
        }

        const char *data = input.constData() + inputPos;
        const size_t length = size_t(input.size() - inputPos);
        parseEnd = data + length;
        const size_t parsed = http_parser_execute(&parser, &settings, data, length);
        inputPos += qsizetype(parsed);

        const auto error = HTTP_PARSER_ERRNO(&parser);
        if (error == HPE_PAUSED) {
            http_parser_pause(&parser, 0);
        } else if (error != HPE_OK) {
            failFromParser(error);
            if (!guard)
                return;
            continue;
        } else if (parsed < length && !messageReady) {
            // http-parser stopped early without a message (cannot happen
            // for requests short of an upgrade); refuse rather than spin.
            fail(400, QStringLiteral("bad_request"), QStringLiteral("Malformed request."));
            if (!guard)
                return;
            continue;
        }

        if (messageReady) {
            messageReady = false;
            if (!current.keepAlive) {
                // HTTP/1.0 without keep-alive, "Connection: close" or CONNECT:
                // this is the last request; what follows is not ours to parse.
                current.keepAlive = false;
                if (Slot *slot = slotFor(current.sequence)) {
                    slot->keepAlive = false;
                    slot->closeAfter = true;
                }
                stopParsing = true;
            }
            emit q->requestReceived(current);
            if (!guard)
                return;
            current = IncomingRequest();
        }
    }
    processing = false;
    updateTimer();
}

// ---------------------------------------------------------------- writing

HttpConnection::Private::Slot *HttpConnection::Private::slotFor(quint64 sequence)
{
    if (sequence < firstSeq || sequence - firstSeq >= answers.size())
        return nullptr;
    return &answers[size_t(sequence - firstSeq)];
}

quint64 HttpConnection::Private::openSlot(bool headRequest, bool keepAlive, int versionMinor)
{
    Slot &slot = answers.emplace_back();
    slot.headRequest = headRequest;
    slot.keepAlive = keepAlive;
    slot.versionMinor = versionMinor;
    return nextSeq++;
}

void HttpConnection::Private::serializeHead(QByteArray &out, const Response &response,
                                            const Slot &slot, bool close, bool stream) const
{
    const int status = response.status;
    out.append("HTTP/1.1 ", 9);
    appendNumber(out, status);
    out.append(' ');
    out.append(response.reason.isEmpty() || hasLineBreak(response.reason) ? cachedReason(status)
                                                                          : response.reason);
    out.append(kCrLf);

    QByteArray callerLength;
    for (const HttpHeaders::Field &f : response.headers.fields()) {
        if (isFramingField(f.first)) {
            if (callerLength.isEmpty() && equalsNoCase(f.first, "content-length"))
                callerLength = f.second;
            continue;
        }
        if (f.first.isEmpty() || hasLineBreak(f.first) || hasLineBreak(f.second))
            continue;
        out.append(f.first);
        out.append(": ", 2);
        out.append(f.second);
        out.append(kCrLf);
    }

    const bool noLength = (status >= 100 && status < 200) || status == 204 || status == 304;
    if (stream) {
        if (slot.versionMinor >= 1 && !slot.headRequest)
            out.append("Transfer-Encoding: chunked\r\n");
    } else if (!noLength) {
        qint64 length = response.body.size();
        // A HEAD answer relayed from upstream has no body but knows its length.
        qint64 announced = 0;
        if (slot.headRequest && response.body.isEmpty() && !callerLength.isEmpty()
            && parseDecimal(callerLength, &announced)) {
            length = announced;
        }
        out.append("Content-Length: ");
        appendNumber(out, length);
        out.append(kCrLf);
    }
    if (close)
        out.append("Connection: close\r\n");
    else if (slot.versionMinor == 0)
        out.append("Connection: keep-alive\r\n");
    out.append(kCrLf);
}

void HttpConnection::Private::write(const QByteArray &bytes)
{
    if (socket && !bytes.isEmpty())
        socket->write(bytes);
}

void HttpConnection::Private::writeChunk(const QByteArray &data)
{
    if (!streamChunked) {
        write(data);
        return;
    }
    QByteArray size;
    size.reserve(20);
    appendNumber(size, data.size(), 16);
    size.append(kCrLf);
    write(size);
    write(data);
    write(kCrLf);
}

void HttpConnection::Private::writeSlot(Slot &slot)
{
    write(slot.interim);
    write(slot.head);
    if (!slot.headRequest)
        write(slot.body);
}

void HttpConnection::Private::answer(quint64 sequence, const Response &response, bool stream)
{
    Slot *slot = slotFor(sequence);
    if (!slot || slot->ready)
        return;
    const bool close = !slot->keepAlive || slot->closeAfter || stream;
    const int status = response.status;
    const bool noBody = slot->headRequest || (status >= 100 && status < 200) || status == 204
                        || status == 304;

    if (stream) {
        // Nothing after the stream will ever be answered.
        stopParsing = true;
        slot->closeAfter = true;
        answers.erase(answers.begin() + qsizetype(sequence - firstSeq) + 1, answers.end());
        slot = slotFor(sequence);
    }

    if (sequence == firstSeq) {
        // Its turn: straight to the socket, no copy kept.
        headBuffer.resize(0);
        serializeHead(headBuffer, response, *slot, close, stream);
        write(slot->interim);
        write(headBuffer);
        if (!noBody && !stream)
            write(response.body);
        const Slot done = std::move(*slot);
        answers.pop_front();
        ++firstSeq;
        if (stream) {
            startStreaming(sequence, done.versionMinor, done.headRequest, done.streamData);
            return;
        }
        if (close) {
            beginClose();
            return;
        }
        flushReady();
        return;
    }

    serializeHead(slot->head, response, *slot, close, stream);
    if (!noBody && !stream)
        slot->body = response.body;
    slot->ready = true;
    slot->stream = stream;
    slot->closeAfter = close;
}

void HttpConnection::Private::flushReady()
{
    while (!answers.empty() && state == State::Open) {
        Slot &front = answers.front();
        if (!front.ready) {
            // Its 100 Continue was held back behind earlier answers.
            if (!front.interim.isEmpty()) {
                write(front.interim);
                front.interim.clear();
            }
            break;
        }
        writeSlot(front);
        const quint64 sequence = firstSeq;
        const Slot done = std::move(front);
        answers.pop_front();
        ++firstSeq;
        if (done.stream) {
            startStreaming(sequence, done.versionMinor, done.headRequest, done.streamData);
            return;
        }
        if (done.closeAfter) {
            beginClose();
            return;
        }
    }
    if (state != State::Open)
        return;
    if (answers.empty() && !inMessage)
        idleSince = nowMs();
    if (blocked && !isBlocked()) {
        blocked = false;
        scheduleResume();
    }
    if (!processing)
        updateTimer();
}

void HttpConnection::Private::startStreaming(quint64 sequence, int versionMinor, bool headRequest,
                                             const QByteArray &pending)
{
    answers.clear();
    if (headRequest) {
        beginClose();
        return;
    }
    streaming = true;
    streamSeq = sequence;
    streamChunked = versionMinor >= 1;
    write(pending);
    discardInput();
}

// ---------------------------------------------------------------- closing

// The last answer is queued: let it drain, then half-close and linger.
void HttpConnection::Private::beginClose()
{
    if (state != State::Open)
        return;
    state = State::Closing;
    stopParsing = true;
    answers.clear();
    if (streaming && streamChunked)
        write(kLastChunk);
    streaming = false;
    discardInput();
    drainProgress = nowMs();
    if (!socket || pendingOutput(socket) == 0)
        halfClose();
    else
        updateTimer();
}

void HttpConnection::Private::halfClose()
{
    if (state != State::Closing)
        return;
    state = State::Lingering;
    lingerDeadline = nowMs() + kLingerMs;
    if (!socket || socket->state() != QAbstractSocket::ConnectedState) {
        finish(false);
        return;
    }
    // TLS: QSslSocket ends the session itself (close_notify, then the
    // close); a shutdown() under it would cut the record stream.
    if (auto *tls = qobject_cast<QSslSocket *>(socket); tls && tls->isEncrypted()) {
        tls->disconnectFromHost();
        updateTimer();
        return;
    }
#ifdef Q_OS_UNIX
    ::shutdown(int(socket->socketDescriptor()), SHUT_WR);
#else
    socket->disconnectFromHost();
#endif
    updateTimer();
}

void HttpConnection::Private::detachSocket(bool flushFirst)
{
    QTcpSocket *s = socket;
    socket = nullptr;
    if (!s)
        return;
    QObject::disconnect(s, nullptr, q, nullptr);
    // Never deleted synchronously: we may be inside one of its signals.
    s->setParent(nullptr);
    if (flushFirst && s->state() == QAbstractSocket::ConnectedState) {
        s->flush();
        if (pendingOutput(s) > 0) {
            QObject::connect(s, &QAbstractSocket::disconnected, s, &QObject::deleteLater);
            QTimer::singleShot(kLingerMs, s, [s] { s->abort(); });
            s->disconnectFromHost();
            return;
        }
    }
    s->abort();
    s->deleteLater();
}

void HttpConnection::Private::finish(bool flushFirst)
{
    if (state == State::Closed)
        return;
    state = State::Closed;
    stopParsing = true;
    streaming = false;
    timer.stop();
    timerDue = -1;
    answers.clear();
    input.clear();
    inputPos = 0;
    detachSocket(flushFirst);
    emit q->closed(); // may delete q: nothing after this line
}

// ---------------------------------------------------------------- timeouts

HttpConnection::Private::Deadline HttpConnection::Private::nextDeadline(qint64 *due) const
{
    switch (state) {
    case State::Closed:
        return Deadline::None;
    case State::Lingering:
        *due = lingerDeadline;
        return Deadline::Linger;
    case State::Closing:
        *due = drainProgress + qMax(limits.idleTimeoutMs, kLingerMs);
        return Deadline::Drain;
    case State::Open:
        break;
    }
    if (streaming || stopParsing)
        return Deadline::None;
    if (inMessage) {
        if (!headersDone) {
            *due = headerDeadline;
            return Deadline::Header;
        }
        *due = lastReceive + limits.idleTimeoutMs;
        return Deadline::Body;
    }
    if (!answers.empty())
        return Deadline::None; // the handler is working on it
    if (nextSeq == 1) {
        *due = headerDeadline; // nothing yet since connect
        return Deadline::Header;
    }
    *due = idleSince + limits.idleTimeoutMs;
    return Deadline::Idle;
}

// Called after every read and answer, so it must be cheap: the timer is only
// restarted when the new deadline is earlier than the one armed. When it
// fires early, onTimer() re-arms it for the rest.
void HttpConnection::Private::updateTimer()
{
    qint64 due = -1;
    if (nextDeadline(&due) == Deadline::None || due < 0)
        return;
    if (timerDue >= 0 && timerDue <= due)
        return;
    const qint64 current = nowMs();
    timerDue = due;
    timer.start(int(qBound(qint64(0), due - current, qint64(std::numeric_limits<int>::max()))));
}

void HttpConnection::Private::onTimer()
{
    timerDue = -1;
    qint64 due = -1;
    const Deadline kind = nextDeadline(&due);
    if (kind == Deadline::None || due < 0)
        return;
    const qint64 current = nowMs();
    if (due > current) {
        timerDue = due;
        timer.start(int(qMin(due - current, qint64(std::numeric_limits<int>::max()))));
        return;
    }
    switch (kind) {
    case Deadline::Header:
        fail(408, QStringLiteral("request_timeout"),
             QStringLiteral("The request headers did not arrive within %1 ms.")
                 .arg(limits.headerTimeoutMs));
        break;
    case Deadline::Body:
        fail(408, QStringLiteral("request_timeout"),
             QStringLiteral("The request body stalled for %1 ms.").arg(limits.idleTimeoutMs));
        break;
    case Deadline::Idle:
        qCDebug(lcHttpConnection) << "connection" << id << "idle, closing";
        beginClose();
        break;
    case Deadline::Drain:
    case Deadline::Linger:
        finish(false);
        break;
    case Deadline::None:
        break;
    }
}

// ---------------------------------------------------------------- socket signals

void HttpConnection::Private::onReadyRead()
{
    if (state == State::Open && !stopParsing && !streaming) {
        processInput();
        return;
    }
    discardInput();
}

void HttpConnection::Private::onBytesWritten(qint64 bytes)
{
    sent += bytes;
    if (state == State::Closing) {
        drainProgress = nowMs();
        if (socket && pendingOutput(socket) == 0)
            halfClose();
        return;
    }
    if (blocked && state == State::Open && !isBlocked()) {
        blocked = false;
        scheduleResume();
    }
}

void HttpConnection::Private::onDisconnected()
{
    finish(false);
}

// ---------------------------------------------------------------- HttpConnection

HttpConnection::HttpConnection(QTcpSocket *socket, const HttpLimits &limits, QObject *parent)
    : QObject(parent)
    , d(std::make_unique<Private>(this))
{
    d->socket = socket;
    d->limits = limits;
    d->id = s_nextConnectionId.fetch_add(1, std::memory_order_relaxed);
    d->peerAddress = socket->peerAddress();
    d->peerPort = socket->peerPort();
    d->headBuffer.reserve(1024);

    // http-parser's own (process-wide) header cap only backs ours up.
    static std::mutex capMutex;
    static quint32 headerCap = HTTP_MAX_HEADER_SIZE;
    {
        const qint64 wanted = qMin<qint64>(qint64(limits.maxHeaderBytes) * 2 + 4096, 0x7fffffff);
        std::lock_guard lock(capMutex);
        if (wanted > headerCap) {
            headerCap = quint32(wanted);
            http_parser_set_max_header_size(headerCap);
        }
    }
    http_parser_init(&d->parser, HTTP_REQUEST);
    d->parser.data = d.get();

    socket->setParent(this);
    socket->setReadBufferSize(kSocketReadBuffer);
    socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);

    d->timer.setSingleShot(true);
    connect(&d->timer, &QTimer::timeout, this, [this] { d->onTimer(); });
    const std::shared_ptr<int> depth = d->socketSignals;
    connect(socket, &QIODevice::readyRead, this, [this, depth] {
        SignalScope scope(depth);
        d->onReadyRead();
    });
    connect(socket, &QIODevice::bytesWritten, this, [this, depth](qint64 n) {
        SignalScope scope(depth);
        d->onBytesWritten(n);
    });
    // Over TLS, bytesWritten comes as soon as bytes are encrypted; the drain
    // before a close also waits for the encrypted bytes to leave.
    if (auto *tls = qobject_cast<QSslSocket *>(socket)) {
        connect(tls, &QSslSocket::encryptedBytesWritten, this, [this, depth] {
            SignalScope scope(depth);
            d->onBytesWritten(0);
        });
    }
    connect(socket, &QAbstractSocket::disconnected, this, [this, depth] {
        SignalScope scope(depth);
        d->onDisconnected();
    });
    connect(socket, &QAbstractSocket::errorOccurred, this, [this, depth] {
        SignalScope scope(depth);
        if (d->socket && d->socket->state() == QAbstractSocket::UnconnectedState)
            d->onDisconnected();
    });

    d->now = nowMs();
    d->lastReceive = d->now;
    d->idleSince = d->now;
    d->headerDeadline = d->now + limits.headerTimeoutMs;
    d->updateTimer();

    // Bytes (or a hang-up) that came before we were listening: handled once
    // the owner has had the chance to connect our signals.
    if (socket->bytesAvailable() > 0 || socket->state() != QAbstractSocket::ConnectedState) {
        QMetaObject::invokeMethod(this, [this] {
            if (d->socket && d->socket->state() != QAbstractSocket::ConnectedState)
                d->onDisconnected();
            else
                d->onReadyRead();
        }, Qt::QueuedConnection);
    }
}

HttpConnection::~HttpConnection()
{
    d->timer.stop();
    // Outside of the socket's signals the socket, our child, goes with us
    // now: a deleteLater() never runs when the program or the thread is
    // ending (LeakSanitizer found such sockets).
    if (d->socket && *d->socketSignals == 0) {
        QObject::disconnect(d->socket, nullptr, this, nullptr);
        d->socket->abort();
        d->socket = nullptr;
        return;
    }
    d->detachSocket(false);
}

quint64 HttpConnection::id() const
{
    return d->id;
}

QHostAddress HttpConnection::peerAddress() const
{
    return d->peerAddress;
}

quint16 HttpConnection::peerPort() const
{
    return d->peerPort;
}

bool HttpConnection::isOpen() const
{
    return d->state == Private::State::Open;
}

qint64 HttpConnection::bytesReceived() const
{
    return d->received;
}

qint64 HttpConnection::bytesSent() const
{
    return d->sent;
}

void HttpConnection::respond(quint64 sequence, const Response &response)
{
    if (d->state != Private::State::Open)
        return;
    d->answer(sequence, response, false);
}

void HttpConnection::startStream(quint64 sequence, const Response &head)
{
    if (d->state != Private::State::Open)
        return;
    d->answer(sequence, head, true);
}

void HttpConnection::writeStreamData(quint64 sequence, const QByteArray &data)
{
    if (d->state != Private::State::Open || data.isEmpty())
        return;
    if (d->streaming) {
        if (sequence != d->streamSeq || !d->socket)
            return;
        d->writeChunk(data);
        if (d->socket && pendingOutput(d->socket) > kMaxStreamBacklog) {
            qCDebug(lcHttpConnection) << "connection" << d->id << "stream consumer too slow, dropped";
            close();
        }
        return;
    }
    // The head still waits for earlier answers: keep the chunk with it.
    Private::Slot *slot = d->slotFor(sequence);
    if (!slot || !slot->ready || !slot->stream)
        return;
    if (slot->versionMinor >= 1) {
        appendNumber(slot->streamData, data.size(), 16);
        slot->streamData.append(kCrLf);
        slot->streamData.append(data);
        slot->streamData.append(kCrLf);
    } else {
        slot->streamData.append(data);
    }
}

void HttpConnection::rejectAndClose(const Response &response)
{
    if (d->state != Private::State::Open)
        return;
    if (d->streaming) {
        close();
        return;
    }
    d->stopParsing = true;
    d->inMessage = false;
    // The first request still unanswered gets it (or, if none, the next one
    // to come, i.e. whatever the peer sends first); later ones are dropped.
    auto it = std::find_if(d->answers.begin(), d->answers.end(), [](const Private::Slot &s) { return !s.ready; });
    quint64 sequence = 0;
    if (it == d->answers.end()) {
        sequence = d->openSlot(false, false, 1);
    } else {
        sequence = d->firstSeq + quint64(it - d->answers.begin());
        d->answers.erase(it + 1, d->answers.end());
    }
    Private::Slot *slot = d->slotFor(sequence);
    slot->closeAfter = true;
    slot->keepAlive = false;
    QPointer<HttpConnection> guard(this);
    d->answer(sequence, response, false);
    if (guard)
        d->updateTimer();
}

void HttpConnection::close()
{
    if (d->state == Private::State::Closed)
        return;
    if (d->streaming && d->streamChunked)
        d->write(kLastChunk);
    d->finish(true);
}

} // namespace prawmp

#include "HttpWire.h"

#include "prawmp/JsonResponses.h"

#include <llhttp.h>

#include <array>
#include <charconv>
#include <vector>

namespace prawmp::wire {

// ---------------------------------------------------------------- header rules

namespace {

const std::array<bool, 256> &tokenTable()
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
    return table;
}

template <size_t N>
bool isOneOf(QByteArrayView name, const char *const (&names)[N])
{
    for (const char *n : names) {
        if (equalsNoCase(name, QByteArrayView(n)))
            return true;
    }
    return false;
}

} // namespace

bool isToken(QByteArrayView bytes)
{
    if (bytes.isEmpty())
        return false;
    const auto &table = tokenTable();
    for (char c : bytes) {
        if (!table[uchar(c)])
            return false;
    }
    return true;
}

bool hasLineBreak(QByteArrayView bytes)
{
    for (char c : bytes) {
        if (c == '\r' || c == '\n')
            return true;
    }
    return false;
}

bool equalsNoCase(QByteArrayView a, QByteArrayView b)
{
    return a.size() == b.size() && a.compare(b, Qt::CaseInsensitive) == 0;
}

bool isFramingField(QByteArrayView name)
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

bool isHopByHopField(QByteArrayView name)
{
    static const char *const hop[] = {"connection", "keep-alive", "proxy-connection",
                                      "proxy-authenticate", "proxy-authorization", "te",
                                      "trailer", "transfer-encoding", "upgrade"};
    return isOneOf(name, hop);
}

bool isNeverForwardedRequestField(QByteArrayView name)
{
    static const char *const decided[] = {"host", "content-length", "expect"};
    return isHopByHopField(name) || isOneOf(name, decided);
}

void removeHopByHop(HttpHeaders &headers)
{
    QList<QByteArray> named;
    for (const QByteArray &value : headers.values("Connection")) {
        for (const QByteArray &token : value.split(',')) {
            const QByteArray name = token.trimmed();
            if (!name.isEmpty())
                named.append(name);
        }
    }
    HttpHeaders kept;
    for (const HttpHeaders::Field &f : headers.fields()) {
        bool drop = isHopByHopField(f.first);
        for (qsizetype i = 0; !drop && i < named.size(); ++i)
            drop = equalsNoCase(f.first, named[i]);
        if (!drop)
            kept.add(f.first, f.second);
    }
    headers = kept;
}

void removeDaemonFields(HttpHeaders &headers)
{
    headers.remove("x-mp-app");
    headers.remove("x-mp-max-wait");
}

void removeNeverForwarded(HttpHeaders &headers)
{
    removeHopByHop(headers);
    HttpHeaders kept;
    for (const HttpHeaders::Field &f : headers.fields()) {
        if (!isNeverForwardedRequestField(f.first))
            kept.add(f.first, f.second);
    }
    headers = kept;
}

bool statusHasBody(int status)
{
    return !((status >= 100 && status < 200) || status == 204 || status == 304);
}

void appendNumber(QByteArray &out, qint64 value, int base)
{
    char buffer[72];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value, base);
    out.append(buffer, result.ptr - buffer);
}

void appendStreamPiece(QByteArray &out, QByteArrayView data, bool chunked)
{
    if (data.isEmpty())
        return;
    if (!chunked) {
        out.append(data);
        return;
    }
    appendNumber(out, data.size(), 16);
    out.append("\r\n", 2);
    out.append(data);
    out.append("\r\n", 2);
}

QByteArrayView lastChunk()
{
    return "0\r\n\r\n";
}

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

const QByteArray &reasonFor(int status)
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

// ---------------------------------------------------------------- serialisers

QByteArray serializeRequest(const QByteArray &method, const QByteArray &target,
                            const QByteArray &host, const HttpHeaders &headers,
                            const QByteArray &body, const HttpHeaders &extra)
{
    HttpHeaders forwarded = headers;
    removeNeverForwarded(forwarded);

    QByteArray out;
    out.reserve(256 + body.size());
    out += method;
    out += ' ';
    out += target;
    out += " HTTP/1.1\r\nHost: ";
    out += host;
    out += "\r\n";
    auto writeField = [&out](const HttpHeaders::Field &f) {
        if (!isToken(f.first) || hasLineBreak(f.second))
            return; // never let a value smuggle in another field or request
        out += f.first;
        out += ": ";
        out += f.second;
        out += "\r\n";
    };
    for (const HttpHeaders::Field &f : forwarded.fields())
        writeField(f);
    for (const HttpHeaders::Field &f : extra.fields())
        writeField(f);
    if (!body.isEmpty() || method == "POST" || method == "PUT" || method == "PATCH") {
        out += "Content-Length: ";
        appendNumber(out, body.size());
        out += "\r\n";
    }
    out += "\r\n";
    out += body;
    return out;
}

void appendResponseHead(QByteArray &out, const Response &response, const ResponseFraming &framing)
{
    const int status = response.status;
    out.append("HTTP/1.1 ", 9);
    appendNumber(out, status);
    out.append(' ');
    out.append(response.reason.isEmpty() || hasLineBreak(response.reason) ? reasonFor(status)
                                                                          : response.reason);
    out.append("\r\n", 2);

    QByteArrayView callerLength;
    for (const HttpHeaders::Field &f : response.headers.fields()) {
        if (isFramingField(f.first)) {
            if (callerLength.isNull() && equalsNoCase(f.first, "content-length"))
                callerLength = f.second;
            continue;
        }
        if (f.first.isEmpty() || hasLineBreak(f.first) || hasLineBreak(f.second))
            continue;
        out.append(f.first);
        out.append(": ", 2);
        out.append(f.second);
        out.append("\r\n", 2);
    }

    if (framing.stream) {
        if (framing.versionMinor >= 1 && !framing.headRequest)
            out.append("Transfer-Encoding: chunked\r\n");
    } else if (statusHasBody(status)) {
        qint64 length = response.body.size();
        // A HEAD answer relayed from upstream has no body but knows its length.
        qint64 announced = 0;
        if (framing.headRequest && response.body.isEmpty() && !callerLength.isNull()
            && parseDecimal(callerLength, &announced)) {
            length = announced;
        }
        out.append("Content-Length: ");
        appendNumber(out, length);
        out.append("\r\n", 2);
    }
    if (framing.close)
        out.append("Connection: close\r\n");
    else if (framing.versionMinor == 0)
        out.append("Connection: keep-alive\r\n");
    out.append("\r\n", 2);
}

ResponseFraming refusalFraming(const ParsedRequest &request)
{
    return ResponseFraming{request.method.isEmpty() ? 1 : request.versionMinor, request.method == "HEAD", true, false};
}

// ---------------------------------------------------------------- RequestParser

namespace {

// Request line bytes no span covers (" HTTP/" and CRLF), counted against the header limit.
constexpr qsizetype kRequestLineOverhead = 16;
// Do not pre-allocate more than this on the word of a Content-Length.
constexpr qint64 kMaxBodyReserve = 1024 * 1024;

QString badRequest() { return QStringLiteral("bad_request"); }

} // namespace

struct RequestParser::Private
{
    llhttp_t parser;
    RequestLimits limits;
    ParsedRequest current;
    WireError error;

    // Where the bytes given to llhttp_execute start in the connection's
    // stream: spans are checked for adjacency by their stream offsets.
    const char *base = nullptr;
    qint64 streamPos = 0;

    bool inMessage = false;
    bool headersDone = false;
    bool messageDone = false;
    bool pausedAtHeaders = false;
    qsizetype headerBytes = 0;
    qint64 methodStart = -1;
    qint64 methodEnd = -1;
    qint64 urlStart = -1;
    qint64 urlEnd = -1;
    qint64 versionStart = -1;
    QByteArray field;
    QByteArray value;
    qint64 valueEnd = -1; // stream offset where the last value piece ended
    int contentLengthFields = 0;
    qint64 contentLength = 0;
    bool contentLengthValid = false;
    // Borrowing: views into the caller's bytes instead of copies.
    bool borrow = false;
    QByteArrayView targetView;
    QByteArrayView fieldView;
    QByteArrayView valueView;
    QVarLengthArray<FieldView, 32> views;
    int transferEncodingFields = 0;
    bool transferEncodingChunked = true;
    bool expectContinue = false;
    bool bodyExpected = false;

    static const llhttp_settings_t settings;
    static Private *get(llhttp_t *p) { return static_cast<Private *>(p->data); }

    qint64 offsetOf(const char *at) const { return streamPos + qint64(at - base); }

    int fail(int status, const QString &code, const QString &message)
    {
        if (!error)
            error = WireError{status, code, message};
        return HPE_USER;
    }
    int failBad(const QString &message) { return fail(400, badRequest(), message); }

    bool addHeaderBytes(qsizetype n)
    {
        headerBytes += n;
        if (headerBytes <= limits.maxHeaderBytes)
            return true;
        fail(431, QStringLiteral("headers_too_large"),
             QStringLiteral("The request header block exceeds %1 bytes.").arg(limits.maxHeaderBytes));
        return false;
    }

    void beginMessage()
    {
        current = ParsedRequest();
        inMessage = true;
        headersDone = false;
        messageDone = false;
        headerBytes = kRequestLineOverhead;
        methodStart = methodEnd = urlStart = urlEnd = versionStart = valueEnd = -1;
        field.clear();
        value.clear();
        contentLengthFields = 0;
        contentLength = 0;
        contentLengthValid = false;
        targetView = fieldView = valueView = QByteArrayView();
        views.clear();
        transferEncodingFields = 0;
        transferEncodingChunked = true;
        expectContinue = false;
        bodyExpected = false;
    }

    int onMethod(const char *at, size_t length)
    {
        if (methodStart < 0)
            methodStart = offsetOf(at);
        methodEnd = offsetOf(at) + qint64(length);
        return addHeaderBytes(qsizetype(length)) ? 0 : HPE_USER;
    }

    int onUrl(const char *at, size_t length)
    {
        if (urlStart < 0) {
            urlStart = offsetOf(at);
            // Exactly one space between method and target (RFC 9112 §3).
            if (urlStart != methodEnd + 1)
                return failBad(QStringLiteral("The request line has more than one space between its parts."));
        }
        urlEnd = offsetOf(at) + qint64(length);
        if (!addHeaderBytes(qsizetype(length)))
            return HPE_USER;
        if (!borrow) {
            current.target.append(at, qsizetype(length));
        } else if (targetView.isNull()) {
            targetView = QByteArrayView(at, qsizetype(length));
        } else {
            return failBad(QStringLiteral("Request split across reads."));
        }
        return 0;
    }

    int onVersion(const char *at, size_t)
    {
        if (versionStart < 0) {
            versionStart = offsetOf(at);
            // " HTTP/" between the target and the version digits.
            if (versionStart != urlEnd + 6)
                return failBad(QStringLiteral("The request line has more than one space between its parts."));
        }
        return 0;
    }

    int onHeaderField(const char *at, size_t length)
    {
        if (!addHeaderBytes(qsizetype(length)))
            return HPE_USER;
        if (headersDone)
            return 0; // chunked trailer fields: counted, not kept
        if (!borrow) {
            field.append(at, qsizetype(length));
        } else if (fieldView.isNull()) {
            fieldView = QByteArrayView(at, qsizetype(length));
        } else {
            return failBad(QStringLiteral("Request split across reads."));
        }
        return 0;
    }

    QByteArrayView fieldName() const { return borrow ? fieldView : QByteArrayView(field); }
    QByteArrayView fieldValue() const { return borrow ? valueView : QByteArrayView(value); }

    int onHeaderFieldComplete()
    {
        if (headersDone)
            return 0;
        // llhttp lets "Name :" through, which a server must refuse (RFC
        // 9112 §5.1) lest another hop read the field otherwise.
        if (!isToken(fieldName()))
            return failBad(QStringLiteral("Invalid header field name."));
        valueEnd = -1;
        return 0;
    }

    int onHeaderValue(const char *at, size_t length)
    {
        if (!addHeaderBytes(qsizetype(length)))
            return HPE_USER;
        if (headersDone)
            return 0;
        const qint64 start = offsetOf(at);
        // A value is one run of bytes; a piece starting elsewhere came
        // after a line break: obsolete line folding, refused as RFC 9112
        // §5.2 allows (it hides fields from checks).
        if (valueEnd >= 0 && start != valueEnd)
            return failBad(QStringLiteral("Folded header lines are refused."));
        valueEnd = start + qint64(length);
        if (!borrow) {
            value.append(at, qsizetype(length));
        } else if (valueView.isNull()) {
            valueView = QByteArrayView(at, qsizetype(length));
        } else {
            return failBad(QStringLiteral("Request split across reads."));
        }
        return 0;
    }

    int onHeaderValueComplete()
    {
        if (headersDone)
            return 0;
        if (!addHeaderBytes(4)) // ": " and CRLF
            return HPE_USER;
        // Framing must be unambiguous or the request is refused (request smuggling).
        const QByteArrayView name = fieldName();
        const QByteArrayView trimmed = fieldValue().trimmed();
        switch (name.size()) {
        case 6:
            if (equalsNoCase(name, "expect"))
                expectContinue = trimmed.compare("100-continue", Qt::CaseInsensitive) == 0;
            break;
        case 14:
            if (equalsNoCase(name, "content-length")) {
                ++contentLengthFields;
                contentLengthValid = parseDecimal(trimmed, &contentLength);
            }
            break;
        case 17:
            if (equalsNoCase(name, "transfer-encoding")) {
                ++transferEncodingFields;
                if (trimmed.compare("chunked", Qt::CaseInsensitive) != 0)
                    transferEncodingChunked = false;
            }
            break;
        default:
            break;
        }
        if (borrow)
            views.append(FieldView{name, trimmed});
        else
            current.headers.add(field, trimmed.toByteArray());
        field.clear();
        value.clear();
        fieldView = valueView = QByteArrayView();
        valueEnd = -1;
        return 0;
    }

    int onHeadersComplete()
    {
        if (!addHeaderBytes(0))
            return HPE_USER;
        headersDone = true;
        const auto method = llhttp_method_t(llhttp_get_method(&parser));
        const char *name = llhttp_method_name(method);
        current.method = QByteArray::fromRawData(name, qsizetype(qstrlen(name)));
        current.versionMinor = llhttp_get_http_minor(&parser);
        current.keepAlive = llhttp_should_keep_alive(&parser) != 0 && method != HTTP_CONNECT;

        if (llhttp_get_http_major(&parser) == 0)
            return failBad(QStringLiteral("The request line lacks an HTTP/1.x version."));
        if (llhttp_get_http_major(&parser) != 1) {
            return fail(505, QStringLiteral("http_version_not_supported"),
                        QStringLiteral("Only HTTP/1.0 and HTTP/1.1 are spoken here."));
        }
        if (contentLengthFields > 0 && transferEncodingFields > 0)
            return failBad(QStringLiteral("Content-Length and Transfer-Encoding together are refused."));
        if (contentLengthFields > 1)
            return failBad(QStringLiteral("More than one Content-Length is refused."));
        if (transferEncodingFields > 1 || !transferEncodingChunked)
            return failBad(QStringLiteral("Only \"Transfer-Encoding: chunked\" is accepted."));

        const bool chunked = transferEncodingFields == 1;
        if (contentLengthFields == 1) {
            if (!contentLengthValid)
                return failBad(QStringLiteral("Invalid Content-Length."));
            if (contentLength > limits.maxBodyBytes) {
                return fail(413, QStringLiteral("body_too_large"),
                            QStringLiteral("The request body exceeds %1 bytes.").arg(limits.maxBodyBytes));
            }
            if (contentLength > 0)
                current.body.reserve(qsizetype(qMin(contentLength, kMaxBodyReserve)));
        }
        bodyExpected = chunked || contentLength > 0;
        expectContinue = expectContinue && current.versionMinor >= 1 && bodyExpected;
        // The caller acts on the header block (opens the answer's slot,
        // sends 100 Continue) before any of a body is read.
        pausedAtHeaders = bodyExpected;
        return bodyExpected ? HPE_PAUSED : 0;
    }

    int onBody(const char *at, size_t length)
    {
        if (current.body.size() + qint64(length) > limits.maxBodyBytes) {
            return fail(413, QStringLiteral("body_too_large"),
                        QStringLiteral("The request body exceeds %1 bytes.").arg(limits.maxBodyBytes));
        }
        current.body.append(at, qsizetype(length));
        return 0;
    }

    int onChunkHeader()
    {
        // parser.content_length holds the size of the chunk announced.
        if (parser.content_length > quint64(limits.maxBodyBytes)
            || current.body.size() + qint64(parser.content_length) > limits.maxBodyBytes) {
            return fail(413, QStringLiteral("body_too_large"),
                        QStringLiteral("The request body exceeds %1 bytes.").arg(limits.maxBodyBytes));
        }
        return 0;
    }

    int onMessageComplete()
    {
        inMessage = false;
        messageDone = true;
        return HPE_PAUSED; // one request at a time
    }
};

const llhttp_settings_t RequestParser::Private::settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = [](llhttp_t *p) -> int {
        get(p)->beginMessage();
        return 0;
    };
    s.on_method = [](llhttp_t *p, const char *at, size_t n) { return get(p)->onMethod(at, n); };
    s.on_url = [](llhttp_t *p, const char *at, size_t n) { return get(p)->onUrl(at, n); };
    s.on_version = [](llhttp_t *p, const char *at, size_t n) { return get(p)->onVersion(at, n); };
    s.on_header_field = [](llhttp_t *p, const char *at, size_t n) { return get(p)->onHeaderField(at, n); };
    s.on_header_field_complete = [](llhttp_t *p) { return get(p)->onHeaderFieldComplete(); };
    s.on_header_value = [](llhttp_t *p, const char *at, size_t n) { return get(p)->onHeaderValue(at, n); };
    s.on_header_value_complete = [](llhttp_t *p) { return get(p)->onHeaderValueComplete(); };
    s.on_headers_complete = [](llhttp_t *p) { return get(p)->onHeadersComplete(); };
    s.on_body = [](llhttp_t *p, const char *at, size_t n) { return get(p)->onBody(at, n); };
    s.on_chunk_header = [](llhttp_t *p) { return get(p)->onChunkHeader(); };
    s.on_message_complete = [](llhttp_t *p) { return get(p)->onMessageComplete(); };
    return s;
}();

RequestParser::RequestParser(const RequestLimits &limits) : d(std::make_unique<Private>())
{
    d->limits = limits;
    reset();
}

void RequestParser::reset()
{
    llhttp_init(&d->parser, HTTP_REQUEST, &Private::settings);
    d->parser.data = d.get();
    d->error = WireError();
    d->streamPos = 0;
    d->beginMessage();
    d->inMessage = false;
}

RequestParser::~RequestParser() = default;

void RequestParser::setLimits(const RequestLimits &limits)
{
    d->limits = limits;
}

RequestParser::Result RequestParser::parse(const char *data, qsizetype size, qsizetype *consumed)
{
    *consumed = 0;
    if (d->error)
        return Result::Error;
    d->base = data;
    d->messageDone = false;
    d->pausedAtHeaders = false;
    llhttp_errno_t err = llhttp_execute(&d->parser, data, size_t(size));
    if (err == HPE_PAUSED_UPGRADE) {
        // After a request naming Upgrade (or CONNECT) llhttp stops, taking
        // what follows for another protocol. We never switch: whoever
        // answers the request decides whether the connection goes on, and
        // what follows is read as the next request.
        llhttp_resume_after_upgrade(&d->parser);
        const char *stop = llhttp_get_error_pos(&d->parser);
        const qsizetype used = stop ? qsizetype(stop - data) : 0;
        d->streamPos += used;
        qsizetype more = 0;
        const Result next = parse(data + used, size - used, &more);
        *consumed = used + more;
        return next;
    }
    if (err == HPE_OK) {
        *consumed = size;
        d->streamPos += size;
        return Result::NeedMore;
    }
    const char *stop = llhttp_get_error_pos(&d->parser);
    const qsizetype used = stop ? qsizetype(stop - data) : size;
    *consumed = used;
    d->streamPos += used;
    if (err == HPE_PAUSED) {
        llhttp_resume(&d->parser);
        if (d->messageDone)
            return Result::MessageComplete;
        if (d->pausedAtHeaders)
            return Result::HeadersComplete;
        return Result::NeedMore;
    }
    if (!d->error) {
        d->error = WireError{400, badRequest(),
                             QStringLiteral("Malformed request: %1.")
                                 .arg(QLatin1String(llhttp_get_error_reason(&d->parser)))};
    }
    return Result::Error;
}

void RequestParser::setBorrowing(bool borrow)
{
    d->borrow = borrow;
}

QByteArrayView RequestParser::targetView() const { return d->targetView; }
const QVarLengthArray<FieldView, 32> &RequestParser::fieldViews() const { return d->views; }
bool RequestParser::inMessage() const { return d->inMessage; }
bool RequestParser::bodyExpected() const { return d->bodyExpected; }
bool RequestParser::expectsContinue() const { return d->expectContinue; }
const ParsedRequest &RequestParser::request() const { return d->current; }
const WireError &RequestParser::error() const { return d->error; }

ParsedRequest RequestParser::takeRequest()
{
    ParsedRequest out = std::move(d->current);
    d->current = ParsedRequest();
    return out;
}

// ---------------------------------------------------------------- ResponseParser

struct ResponseParser::Private
{
    llhttp_t parser;
    ResponseParser *q = nullptr;
    qsizetype maxHeadBytes = 0;
    qsizetype headBytes = 0;
    bool head = false;
    Response response;
    QByteArray field;
    QByteArray value;
    Status status = Status::NeedMore;
    bool sawBytes = false;
    bool headComplete = false;
    bool keepAlive = false;
    bool extra = false;
    QString refusal;

    static const llhttp_settings_t settings;
    static Private *get(llhttp_t *p) { return static_cast<Private *>(p->data); }

    int refuse(const QString &why)
    {
        if (refusal.isEmpty())
            refusal = why;
        return HPE_USER;
    }

    bool addHeadBytes(size_t n)
    {
        headBytes += qsizetype(n);
        return headBytes <= maxHeadBytes;
    }

    void clearMessage()
    {
        response = Response{};
        field.clear();
        value.clear();
        headBytes = 0;
    }
};

const llhttp_settings_t ResponseParser::Private::settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = [](llhttp_t *p) -> int {
        get(p)->clearMessage();
        return 0;
    };
    s.on_status = [](llhttp_t *p, const char *at, size_t n) -> int {
        Private *d = get(p);
        if (!d->addHeadBytes(n))
            return d->refuse(QStringLiteral("response head too large"));
        d->response.reason.append(at, qsizetype(n));
        return 0;
    };
    s.on_header_field = [](llhttp_t *p, const char *at, size_t n) -> int {
        Private *d = get(p);
        if (!d->addHeadBytes(n))
            return d->refuse(QStringLiteral("response head too large"));
        d->field.append(at, qsizetype(n));
        return 0;
    };
    s.on_header_value = [](llhttp_t *p, const char *at, size_t n) -> int {
        Private *d = get(p);
        if (!d->addHeadBytes(n))
            return d->refuse(QStringLiteral("response head too large"));
        d->value.append(at, qsizetype(n));
        return 0;
    };
    s.on_header_value_complete = [](llhttp_t *p) -> int {
        Private *d = get(p);
        if (!isToken(d->field))
            return d->refuse(QStringLiteral("malformed header line"));
        d->response.headers.add(d->field, d->value.trimmed());
        d->field.clear();
        d->value.clear();
        return 0;
    };
    s.on_headers_complete = [](llhttp_t *p) -> int {
        Private *d = get(p);
        const int status = llhttp_get_status_code(p);
        d->response.status = status;
        if (status == 101)
            return d->refuse(QStringLiteral("unexpected 101 Switching Protocols"));
        if (status / 100 != 1) {
            d->headComplete = true;
            if (d->q->onHead)
                d->q->onHead();
        }
        // No body, whatever the framing fields say: interim answers, 204,
        // 304 and the answer to HEAD.
        if (!statusHasBody(status) || d->head)
            return 1;
        return 0;
    };
    s.on_body = [](llhttp_t *p, const char *at, size_t n) -> int {
        Private *d = get(p);
        if (d->q->onBody)
            d->q->onBody(QByteArray(at, qsizetype(n)));
        else
            d->response.body.append(at, qsizetype(n));
        return 0;
    };
    s.on_message_complete = [](llhttp_t *p) -> int {
        Private *d = get(p);
        if (d->response.status / 100 == 1) {
            // 100 Continue, 103 Early Hints...: the final answer follows.
            d->clearMessage();
            return 0;
        }
        d->status = Status::Complete;
        d->keepAlive = llhttp_should_keep_alive(p) != 0;
        return HPE_PAUSED; // what follows was not asked for
    };
    return s;
}();

ResponseParser::ResponseParser(qsizetype maxHeadBytes) : d(std::make_unique<Private>())
{
    d->q = this;
    d->maxHeadBytes = maxHeadBytes;
    reset(false);
}

ResponseParser::~ResponseParser() = default;

void ResponseParser::reset(bool headRequest)
{
    llhttp_init(&d->parser, HTTP_RESPONSE, &Private::settings);
    d->parser.data = d.get();
    d->head = headRequest;
    onHead = nullptr;
    onBody = nullptr;
    d->clearMessage();
    d->status = Status::NeedMore;
    d->sawBytes = false;
    d->headComplete = false;
    d->keepAlive = false;
    d->extra = false;
    d->refusal.clear();
}

ResponseParser::Status ResponseParser::feed(const char *data, qsizetype size)
{
    if (size <= 0)
        return d->status;
    d->sawBytes = true;
    if (d->status == Status::Complete) {
        d->extra = true;
        return d->status;
    }
    if (d->status == Status::Error)
        return d->status;
    const llhttp_errno_t err = llhttp_execute(&d->parser, data, size_t(size));
    if (err == HPE_PAUSED) {
        const char *stop = llhttp_get_error_pos(&d->parser);
        if (stop && stop < data + size)
            d->extra = true;
    } else if (err != HPE_OK) {
        d->status = Status::Error;
    }
    return d->status;
}

ResponseParser::Status ResponseParser::finishAtEof()
{
    if (d->status != Status::NeedMore || !d->headComplete)
        return d->status;
    // A body delimited by the close ends here (llhttp calls on_message_complete).
    llhttp_finish(&d->parser);
    if (d->status == Status::Complete)
        d->keepAlive = false;
    return d->status;
}

ResponseParser::Status ResponseParser::status() const { return d->status; }
bool ResponseParser::sawBytes() const { return d->sawBytes; }
bool ResponseParser::headComplete() const { return d->headComplete; }
bool ResponseParser::keepAlive() const { return d->keepAlive && !d->extra; }
bool ResponseParser::extraBytes() const { return d->extra; }
const Response &ResponseParser::response() const { return d->response; }

Response ResponseParser::takeResponse()
{
    Response out = std::move(d->response);
    // The body is de-chunked: the framing field no longer applies.
    out.headers.remove("transfer-encoding");
    d->response = Response{};
    return out;
}

QString ResponseParser::errorString() const
{
    if (!d->refusal.isEmpty())
        return d->refusal;
    const llhttp_errno_t err = llhttp_get_errno(&d->parser);
    const char *reason = llhttp_get_error_reason(&d->parser);
    return QStringLiteral("%1 (%2)").arg(QLatin1String(reason ? reason : "invalid"),
                                         QLatin1String(llhttp_errno_name(err)));
}

} // namespace prawmp::wire

#pragma once
// Helpers shared by the tst_daemon_* suites, which drive the real
// `praw-multiprocess` process over raw sockets: a tolerant HTTP/1.1
// response reader, a raw client, a Server-Sent Events reader, a scripted
// upstream for answers FakeReddit cannot give, and JSON/error checks.
// Header-only and without Q_OBJECT, so it needs neither moc nor a change
// to the support library.
#include "FakeReddit.h"
#include "ProcessFixture.h"
#include "TestPrograms.h"

#include "prawmp/HttpHeaders.h"
#include "prawmp/SseParser.h"

#include <QElapsedTimer>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QList>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

#include <deque>
#include <functional>
#include <memory>

namespace dtk {

using prawmp::HttpHeaders;
using prawmp::test::ProcessFixture;

// One HTTP answer as read off the wire.
struct RawResponse
{
    int status = 0;          // 0: nothing (complete) was received
    QByteArray reason;
    HttpHeaders headers;
    QByteArray body;         // de-chunked
    QList<int> interim;      // 1xx statuses that came before it
    qint64 receivedAtMs = 0; // on the reader's clock

    QByteArray header(const QByteArray &name) const { return headers.value(name); }
    QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
    QString describe() const
    {
        QString text = QStringLiteral("HTTP %1 %2\n").arg(status).arg(QString::fromLatin1(reason));
        for (const auto &f : headers.fields())
            text += QString::fromLatin1(f.first + ": " + f.second) + u'\n';
        text += QString::fromUtf8(body.left(600));
        return text;
    }
};

// Decodes a chunked body from `data` at `pos`; false while incomplete.
inline bool dechunk(const QByteArray &data, qsizetype pos, QByteArray *body, qsizetype *end)
{
    QByteArray out;
    for (;;) {
        const qsizetype lineEnd = data.indexOf("\r\n", pos);
        if (lineEnd < 0)
            return false;
        QByteArray sizeText = data.mid(pos, lineEnd - pos);
        if (const qsizetype semi = sizeText.indexOf(';'); semi >= 0)
            sizeText.truncate(semi);
        bool ok = false;
        const qsizetype size = sizeText.trimmed().toLongLong(&ok, 16);
        if (!ok)
            return false;
        pos = lineEnd + 2;
        if (size == 0) {
            // Trailer fields, then an empty line.
            for (;;) {
                const qsizetype e = data.indexOf("\r\n", pos);
                if (e < 0)
                    return false;
                const bool empty = e == pos;
                pos = e + 2;
                if (empty)
                    break;
            }
            *body = out;
            *end = pos;
            return true;
        }
        if (data.size() < pos + size + 2)
            return false;
        out += data.mid(pos, size);
        pos += size + 2;
    }
}

// Reads consecutive answers from a byte stream. Tell it which requests
// were HEAD (their answers have no body) in the order they were sent.
class ResponseReader
{
public:
    void expect(bool head) { m_heads.push_back(head); }

    // Parses what it can from `buffer` (consumed bytes are removed).
    // `eof`: the peer closed, so a body without length ends here.
    QList<RawResponse> parse(QByteArray &buffer, bool eof, qint64 nowMs)
    {
        QList<RawResponse> out;
        for (;;) {
            const qsizetype headEnd = buffer.indexOf("\r\n\r\n");
            if (headEnd < 0)
                break;
            RawResponse r;
            const QList<QByteArray> lines = buffer.left(headEnd).split('\n');
            const QByteArray statusLine = lines.value(0).trimmed();
            const QList<QByteArray> parts = statusLine.split(' ');
            r.status = parts.value(1).toInt();
            r.reason = statusLine.mid(parts.value(0).size() + parts.value(1).size() + 2);
            for (qsizetype i = 1; i < lines.size(); ++i) {
                const QByteArray line = lines[i].trimmed();
                const qsizetype colon = line.indexOf(':');
                if (colon > 0)
                    r.headers.add(line.left(colon).trimmed(), line.mid(colon + 1).trimmed());
            }
            qsizetype consumed = headEnd + 4;
            if (r.status >= 100 && r.status < 200) {
                m_interim.append(r.status);
                buffer.remove(0, consumed);
                continue;
            }
            const bool head = !m_heads.empty() && m_heads.front();
            if (head || r.status == 204 || r.status == 304) {
                // no body
            } else if (r.headers.value("transfer-encoding").toLower().contains("chunked")) {
                qsizetype end = 0;
                if (!dechunk(buffer, consumed, &r.body, &end))
                    break;
                consumed = end;
            } else if (r.headers.contains("content-length")) {
                const qsizetype length = r.headers.value("content-length").trimmed().toLongLong();
                if (buffer.size() < consumed + length)
                    break;
                r.body = buffer.mid(consumed, length);
                consumed += length;
            } else {
                if (!eof)
                    break;
                r.body = buffer.mid(consumed);
                consumed = buffer.size();
            }
            if (!m_heads.empty())
                m_heads.pop_front();
            r.interim = m_interim;
            m_interim.clear();
            r.receivedAtMs = nowMs;
            buffer.remove(0, consumed);
            out.append(r);
        }
        return out;
    }

    QList<int> pendingInterim() const { return m_interim; }

private:
    std::deque<bool> m_heads;
    QList<int> m_interim;
};

inline QElapsedTimer &clock()
{
    static QElapsedTimer c = [] {
        QElapsedTimer t;
        t.start();
        return t;
    }();
    return c;
}

// A raw TCP client of the daemon: writes exactly the bytes it is given and
// collects the answers.
class RawClient
{
public:
    explicit RawClient(quint16 port, const QHostAddress &address = QHostAddress::LocalHost)
        : m_socket(std::make_unique<QTcpSocket>())
    {
        QTcpSocket *s = m_socket.get();
        QObject::connect(s, &QTcpSocket::readyRead, s, [this] { read(false); });
        QObject::connect(s, &QTcpSocket::disconnected, s, [this] {
            m_closed = true;
            read(true);
        });
        QObject::connect(s, &QTcpSocket::errorOccurred, s, [this](QAbstractSocket::SocketError e) {
            if (e == QAbstractSocket::RemoteHostClosedError || m_socket->state() == QAbstractSocket::UnconnectedState) {
                m_closed = true;
                read(true);
            }
        });
        s->connectToHost(address, port);
    }
    ~RawClient() { QObject::disconnect(m_socket.get(), nullptr, m_socket.get(), nullptr); }
    RawClient(const RawClient &) = delete;
    RawClient &operator=(const RawClient &) = delete;

    bool waitConnected(int timeoutMs = 5000)
    {
        return QTest::qWaitFor([this] { return m_socket->state() == QAbstractSocket::ConnectedState || m_closed; },
                               timeoutMs)
            && m_socket->state() == QAbstractSocket::ConnectedState;
    }

    // Bytes as they are; `heads` flags the HEAD requests among them, in order.
    void write(const QByteArray &bytes, const QList<bool> &heads = {false})
    {
        for (bool h : heads)
            m_reader.expect(h);
        writePart(bytes);
    }
    // Bytes that do not complete a request (its answer is not expected yet).
    // Before the connection is up they wait in the socket's buffer.
    void writePart(const QByteArray &bytes)
    {
        m_socket->write(bytes);
        if (m_socket->state() == QAbstractSocket::ConnectedState)
            m_socket->flush();
    }
    void expect(bool head = false) { m_reader.expect(head); }

    bool waitForResponses(int count, int timeoutMs = 10'000)
    {
        return QTest::qWaitFor([&] { return m_responses.size() >= count || m_closed; }, timeoutMs)
            && m_responses.size() >= count;
    }
    bool waitForClosed(int timeoutMs = 5000)
    {
        return QTest::qWaitFor([this] { return m_closed; }, timeoutMs);
    }
    // The answer to one request written now.
    RawResponse request(const QByteArray &bytes, bool head = false, int timeoutMs = 10'000)
    {
        const qsizetype before = m_responses.size();
        write(bytes, {head});
        if (!waitForResponses(int(before) + 1, timeoutMs))
            return {};
        return m_responses.at(before);
    }

    const QList<RawResponse> &responses() const { return m_responses; }
    QList<int> pendingInterim() const { return m_reader.pendingInterim(); }
    bool isClosed() const { return m_closed; }
    bool isConnected() const { return m_socket->state() == QAbstractSocket::ConnectedState && !m_closed; }
    QByteArray unparsed() const { return m_buffer; }
    QTcpSocket *socket() { return m_socket.get(); }
    void close() { m_socket->abort(); }

private:
    void read(bool eof)
    {
        if (m_socket->isOpen())
            m_buffer += m_socket->readAll();
        m_responses += m_reader.parse(m_buffer, eof, clock().elapsed());
    }

    std::unique_ptr<QTcpSocket> m_socket;
    ResponseReader m_reader;
    QByteArray m_buffer;
    QList<RawResponse> m_responses;
    bool m_closed = false;
};

// "METHOD target HTTP/1.1" with Host, the given fields and a Content-Length body.
inline QByteArray httpRequest(const QByteArray &method, const QByteArray &target,
                              const QList<QPair<QByteArray, QByteArray>> &fields = {},
                              const QByteArray &body = {})
{
    QByteArray r = method + ' ' + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto &f : fields)
        r += f.first + ": " + f.second + "\r\n";
    if (!body.isEmpty() || method == "POST" || method == "PUT" || method == "PATCH")
        r += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
    r += "\r\n" + body;
    return r;
}

inline QByteArray get(const QByteArray &target, const QList<QPair<QByteArray, QByteArray>> &fields = {})
{
    return httpRequest("GET", target, fields);
}

// One request on a fresh connection.
inline RawResponse fetch(quint16 port, const QByteArray &request, bool head = false, int timeoutMs = 10'000)
{
    RawClient client(port);
    if (!client.waitConnected())
        return {};
    return client.request(request, head, timeoutMs);
}

inline QJsonObject fetchJson(quint16 port, const QByteArray &target,
                             const QList<QPair<QByteArray, QByteArray>> &fields = {})
{
    return fetch(port, get(target, fields)).json();
}

// The contract's error shape: status, JSON {"error": code, "message": text}.
inline QString checkJsonError(const RawResponse &r, int status, const QString &code = {})
{
    if (r.status != status)
        return QStringLiteral("expected status %1, got:\n%2").arg(status).arg(r.describe());
    if (!r.header("content-type").startsWith("application/json"))
        return QStringLiteral("not JSON:\n%1").arg(r.describe());
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(r.body, &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject())
        return QStringLiteral("body is not a JSON object:\n%1").arg(r.describe());
    const QJsonObject o = doc.object();
    if (o.keys() != QStringList{QStringLiteral("error"), QStringLiteral("message")})
        return QStringLiteral("keys are not exactly error+message:\n%1").arg(r.describe());
    if (!o["error"].isString() || o["error"].toString().isEmpty() || !o["message"].isString()
        || o["message"].toString().isEmpty())
        return QStringLiteral("error/message not non-empty strings:\n%1").arg(r.describe());
    if (!code.isEmpty() && o["error"].toString() != code)
        return QStringLiteral("expected error code %1:\n%2").arg(code, r.describe());
    return {};
}

// Reads a /_mp/events stream: the answer head, then SSE events as they come.
class EventStream
{
public:
    explicit EventStream(quint16 port, const QByteArray &extraFields = {})
        : m_socket(std::make_unique<QTcpSocket>())
    {
        QTcpSocket *s = m_socket.get();
        QObject::connect(s, &QTcpSocket::connected, s, [s, extraFields] {
            s->write("GET /_mp/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                     + extraFields + "\r\n");
        });
        QObject::connect(s, &QTcpSocket::readyRead, s, [this] { read(); });
        QObject::connect(s, &QTcpSocket::disconnected, s, [this] { m_closed = true; });
        s->connectToHost(QHostAddress::LocalHost, port);
    }
    ~EventStream() { QObject::disconnect(m_socket.get(), nullptr, m_socket.get(), nullptr); }
    EventStream(const EventStream &) = delete;
    EventStream &operator=(const EventStream &) = delete;

    bool waitForEvent(const std::function<bool(const prawmp::SseParser::Event &)> &match,
                      int timeoutMs, qsizetype from = 0)
    {
        return QTest::qWaitFor([&] {
            for (qsizetype i = from; i < m_events.size(); ++i)
                if (match(m_events[i]))
                    return true;
            return m_closed;
        }, timeoutMs) && std::any_of(m_events.begin() + from, m_events.end(), match);
    }

    int status() const { return m_status; }
    HttpHeaders headers() const { return m_headers; }
    const QList<prawmp::SseParser::Event> &events() const { return m_events; }
    QList<qint64> eventTimesMs() const { return m_times; }
    bool isClosed() const { return m_closed; }

private:
    void read()
    {
        m_raw += m_socket->readAll();
        if (m_status == 0) {
            const qsizetype headEnd = m_raw.indexOf("\r\n\r\n");
            if (headEnd < 0)
                return;
            const QList<QByteArray> lines = m_raw.left(headEnd).split('\n');
            m_status = lines.value(0).split(' ').value(1).toInt();
            for (qsizetype i = 1; i < lines.size(); ++i) {
                const QByteArray line = lines[i].trimmed();
                const qsizetype colon = line.indexOf(':');
                if (colon > 0)
                    m_headers.add(line.left(colon).trimmed(), line.mid(colon + 1).trimmed());
            }
            m_chunked = m_headers.value("transfer-encoding").toLower().contains("chunked");
            m_raw.remove(0, headEnd + 4);
        }
        QByteArray payload;
        if (!m_chunked) {
            payload = m_raw;
            m_raw.clear();
        } else {
            for (;;) {
                const qsizetype lineEnd = m_raw.indexOf("\r\n");
                if (lineEnd < 0)
                    break;
                bool ok = false;
                const qsizetype size = m_raw.left(lineEnd).trimmed().toLongLong(&ok, 16);
                if (!ok || m_raw.size() < lineEnd + 2 + size + 2)
                    break;
                payload += m_raw.mid(lineEnd + 2, size);
                m_raw.remove(0, lineEnd + 2 + size + 2);
            }
        }
        const auto events = m_parser.feed(payload);
        for (const auto &e : events) {
            m_events.append(e);
            m_times.append(clock().elapsed());
        }
    }

    std::unique_ptr<QTcpSocket> m_socket;
    QByteArray m_raw;
    int m_status = 0;
    HttpHeaders m_headers;
    bool m_chunked = false;
    bool m_closed = false;
    prawmp::SseParser m_parser;
    QList<prawmp::SseParser::Event> m_events;
    QList<qint64> m_times;
};

// A loopback upstream that answers every request with one scripted answer
// (raw bytes, so that it can send what FakeReddit never would: hop-by-hop
// fields, any status for any method) and records what it received.
class ScriptedUpstream
{
public:
    struct Received
    {
        QByteArray method;
        QByteArray target;
        HttpHeaders headers;
        QByteArray body;
    };

    ScriptedUpstream() : m_server(std::make_unique<QTcpServer>())
    {
        QTcpServer *server = m_server.get();
        QObject::connect(server, &QTcpServer::pendingConnectionAvailable, server, [this] {
            while (QTcpSocket *s = m_server->nextPendingConnection()) {
                auto buffer = std::make_shared<QByteArray>();
                QObject::connect(s, &QTcpSocket::readyRead, s, [this, s, buffer] {
                    *buffer += s->readAll();
                    serve(s, *buffer);
                });
                QObject::connect(s, &QTcpSocket::disconnected, s, &QObject::deleteLater);
            }
        });
    }

    // The sockets (children of the server) go first: their slots use our members.
    ~ScriptedUpstream() { m_server.reset(); }
    ScriptedUpstream(const ScriptedUpstream &) = delete;
    ScriptedUpstream &operator=(const ScriptedUpstream &) = delete;

    bool listen() { return m_server->listen(QHostAddress::LocalHost, 0); }
    quint16 port() const { return m_server->serverPort(); }
    QByteArray base() const { return "http://127.0.0.1:" + QByteArray::number(port()); }

    // Fields added to every answer (after the standard ones).
    void setExtraFields(const QList<QPair<QByteArray, QByteArray>> &fields) { m_extra = fields; }
    void setStatus(int status) { m_status = status; }
    const QList<Received> &received() const { return m_received; }
    int count() const { return int(m_received.size()); }

private:
    void serve(QTcpSocket *s, QByteArray &buffer)
    {
        for (;;) {
            const qsizetype headEnd = buffer.indexOf("\r\n\r\n");
            if (headEnd < 0)
                return;
            Received r;
            const QList<QByteArray> lines = buffer.left(headEnd).split('\n');
            const QList<QByteArray> requestLine = lines.value(0).trimmed().split(' ');
            r.method = requestLine.value(0);
            r.target = requestLine.value(1);
            for (qsizetype i = 1; i < lines.size(); ++i) {
                const QByteArray line = lines[i].trimmed();
                const qsizetype colon = line.indexOf(':');
                if (colon > 0)
                    r.headers.add(line.left(colon).trimmed(), line.mid(colon + 1).trimmed());
            }
            qsizetype length = r.headers.value("content-length").toLongLong();
            if (buffer.size() < headEnd + 4 + length)
                return;
            r.body = buffer.mid(headEnd + 4, length);
            buffer.remove(0, headEnd + 4 + length);
            m_received.append(r);

            const QByteArray body = QJsonDocument(QJsonObject{
                {"method", QString::fromLatin1(r.method)},
                {"target", QString::fromLatin1(r.target)},
                {"n", int(m_received.size())}}).toJson(QJsonDocument::Compact);
            QByteArray answer = "HTTP/1.1 " + QByteArray::number(m_status) + " Scripted\r\n"
                                "Content-Type: application/json\r\n";
            for (const auto &f : m_extra)
                answer += f.first + ": " + f.second + "\r\n";
            answer += "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n";
            if (r.method != "HEAD")
                answer += body;
            s->write(answer);
        }
    }

    std::unique_ptr<QTcpServer> m_server;
    QList<QPair<QByteArray, QByteArray>> m_extra;
    int m_status = 200;
    QList<Received> m_received;
};

// Starts the daemon on a free loopback port ("--port 0") with `args`.
inline bool startDaemon(ProcessFixture &daemon, const QStringList &args, int timeoutMs = 10'000)
{
    return daemon.start(prawmp::test::daemonProgram(), QStringList{QStringLiteral("--port"), QStringLiteral("0")} + args,
                        timeoutMs);
}

inline QString upstreamArg(quint16 port)
{
    return QStringLiteral("http://127.0.0.1:%1").arg(port);
}

// Daemon options for tests of behaviour, not pacing: every route to the
// upstream on `upstreamPort`, no delay between upstream requests.
inline QStringList unpacedDaemonArgs(quint16 upstreamPort)
{
    return {QStringLiteral("--upstream"), upstreamArg(upstreamPort), QStringLiteral("--rate-mode"),
            QStringLiteral("fixed"), QStringLiteral("--delay"), QStringLiteral("0")};
}

} // namespace dtk

#include "HttpConnection.h"

#include "HttpWire.h"
#include "prawmp/JsonResponses.h"

#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QPointer>
#include <QSslSocket>
#include <QTcpSocket>
#include <QTimer>

#include <atomic>
#include <deque>
#include <limits>
#include <memory>
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

const QByteArray kLastChunk = wire::lastChunk().toByteArray();

qint64 nowMs()
{
    static const QElapsedTimer clock = [] {
        QElapsedTimer t;
        t.start();
        return t;
    }();
    return clock.elapsed();
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
    wire::RequestParser parser;
    QByteArray input;
    qsizetype inputPos = 0;
    bool processing = false;   // inside processInput(): do not re-enter
    bool blocked = false;      // parsing paused for back-pressure
    bool resumeQueued = false;
    bool stopParsing = false;  // no further request will be read

    // The request being parsed.
    quint64 currentSequence = 0;
    bool inMessage = false;
    bool headersDone = false;
    bool hasSlot = false;

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

    explicit Private(HttpConnection *owner) : q(owner), timer(owner) {}

    // Parsing.
    void processInput();
    bool isBlocked() const;
    void scheduleResume();
    void discardInput();
    void headersParsed();
    void messageParsed();
    void fail(int status, const QString &code, const QString &message);
    void refuse(const Response &error);

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

// ---------------------------------------------------------------- parsing

void HttpConnection::Private::headersParsed()
{
    headersDone = true;
    headerDeadline = -1;
    const wire::ParsedRequest &request = parser.request();
    // The slot first, so that an error in the body answers this very request.
    currentSequence = openSlot(request.method == "HEAD", request.keepAlive, request.versionMinor);
    hasSlot = true;
    if (parser.expectsContinue()) {
        Slot &slot = answers.back();
        if (answers.size() == 1)
            write(continueInterim());
        else
            slot.interim = continueInterim(); // after the answers still owed
    }
}

void HttpConnection::Private::messageParsed()
{
    inMessage = false;
    headersDone = false;
    hasSlot = false;
    IncomingRequest request;
    static_cast<wire::ParsedRequest &>(request) = parser.takeRequest();
    request.sequence = currentSequence;
    if (!request.keepAlive) {
        // HTTP/1.0 without keep-alive, "Connection: close" or CONNECT:
        // this is the last request; what follows is not ours to parse.
        if (Slot *slot = slotFor(request.sequence)) {
            slot->keepAlive = false;
            slot->closeAfter = true;
        }
        stopParsing = true;
    }
    emit q->requestReceived(request);
}

// Refuses the request being read: the error takes its place in the answer
// order, and the connection closes once it is written.
void HttpConnection::Private::fail(int status, const QString &code, const QString &message)
{
    refuse(jsonError(status, code, message));
}

void HttpConnection::Private::refuse(const Response &error)
{
    if (state != State::Open || stopParsing)
        return;
    qCDebug(lcHttpConnection) << "connection" << id << "refuses a request:" << error.status << error.body;
    stopParsing = true;
    // The request being read keeps its place if it has one; no slot after
    // it exists yet, since requests are numbered in order.
    // An error in the header block itself: the request's method and
    // version, as far as read, still shape the answer.
    const wire::ResponseFraming framing = wire::refusalFraming(parser.request());
    quint64 sequence = inMessage && hasSlot && slotFor(currentSequence)
        ? currentSequence
        : openSlot(framing.headRequest, false, framing.versionMinor);
    inMessage = false;
    headerDeadline = -1;
    input.clear();
    inputPos = 0;
    Slot *slot = slotFor(sequence);
    slot->closeAfter = true;
    slot->interim.clear();
    answer(sequence, error, false);
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

        qsizetype used = 0;
        const auto result = parser.parse(input.constData() + inputPos, input.size() - inputPos, &used);
        inputPos += used;
        if (used > 0 && !inMessage) {
            inMessage = parser.inMessage();
            // The first request keeps the deadline counted from connect.
            if (inMessage && headerDeadline < 0)
                headerDeadline = now + limits.headerTimeoutMs;
        }
        switch (result) {
        case wire::RequestParser::Result::NeedMore:
            break;
        case wire::RequestParser::Result::HeadersComplete:
            inMessage = true;
            headersParsed();
            break;
        case wire::RequestParser::Result::MessageComplete:
            if (!headersDone)
                headersParsed();
            messageParsed();
            if (!guard)
                return;
            break;
        case wire::RequestParser::Result::Error: {
            const wire::WireError &error = parser.error();
            fail(error.status, error.code, error.message);
            if (!guard)
                return;
            break;
        }
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
    wire::appendResponseHead(out, response,
                             wire::ResponseFraming{slot.versionMinor, slot.headRequest, close, stream});
}

void HttpConnection::Private::write(const QByteArray &bytes)
{
    if (socket && !bytes.isEmpty())
        socket->write(bytes);
}

void HttpConnection::Private::writeChunk(const QByteArray &data)
{
    QByteArray piece;
    wire::appendStreamPiece(piece, data, streamChunked);
    write(piece);
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
    const bool noBody = slot->headRequest || !wire::statusHasBody(status);

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
        refuse(headerTimeoutError(limits.headerTimeoutMs));
        break;
    case Deadline::Body:
        refuse(bodyTimeoutError(limits.idleTimeoutMs));
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
    d->id = nextConnectionId();
    d->peerAddress = socket->peerAddress();
    d->peerPort = socket->peerPort();
    d->headBuffer.reserve(1024);

    d->parser.setLimits(wire::RequestLimits{limits.maxHeaderBytes, limits.maxBodyBytes});

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

qint64 HttpConnection::outputBacklog() const { return d->socket ? pendingOutput(d->socket) : 0; }

void HttpConnection::setSendBufferSize(int bytes)
{
    if (d->socket && bytes > 0)
        d->socket->setSocketOption(QAbstractSocket::SendBufferSizeSocketOption, bytes);
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
    wire::appendStreamPiece(slot->streamData, data, slot->versionMinor >= 1);
}

namespace {

class HttpConnectionStream final : public EventStream
{
public:
    HttpConnectionStream(HttpConnection *connection, quint64 sequence)
        : m_connection(connection), m_sequence(sequence)
    {
    }

    void start(const Response &head, int sendBufferBytes) override
    {
        if (!m_connection)
            return;
        m_connection->setSendBufferSize(sendBufferBytes);
        m_connection->startStream(m_sequence, head);
    }
    void write(const QByteArray &data) override
    {
        if (m_connection)
            m_connection->writeStreamData(m_sequence, data);
    }
    qint64 backlog() const override { return m_connection ? m_connection->outputBacklog() : 0; }
    bool isOpen() const override { return m_connection && m_connection->isOpen(); }
    void close() override
    {
        if (m_connection)
            m_connection->close();
    }
    void setClosedHandler(std::function<void()> handler) override
    {
        // Queued: the handler never runs inside whoever closed the connection.
        if (m_connection)
            QObject::connect(m_connection, &HttpConnection::closed, m_connection, std::move(handler),
                             Qt::QueuedConnection);
    }

private:
    QPointer<HttpConnection> m_connection;
    const quint64 m_sequence;
};

} // namespace

EventStreamPtr HttpConnection::eventStream(quint64 sequence)
{
    return std::make_shared<HttpConnectionStream>(this, sequence);
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

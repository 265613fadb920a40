#pragma once
#include <QByteArray>
#include <QElapsedTimer>
#include <QHash>
#include <QList>
#include <QLoggingCategory>
#include <QObject>
#include <QString>

#include <functional>
#include <memory>

Q_DECLARE_LOGGING_CATEGORY(lcRedis) // "prawmp.redis"

namespace prawmp {

// Where the shared state lives: redis://[[user]:password@]host[:port][/db].
struct RedisAddress
{
    QString host;
    quint16 port = 6379;
    QString user;     // Redis 6 ACL user; empty: the default user
    QString password; // never logged: see describe()
    int db = 0;

    // Empty string on success, otherwise a message that never holds the password.
    static QString parse(const QString &url, RedisAddress *address);
    // "host:port/db", for logs.
    QString describe() const;
};

// One answer of Redis, copied out of hiredis' reply so that it can outlive
// the callback.
struct RedisValue
{
    enum class Type {
        None,    // no answer: not connected, connection lost or timed out
        Nil,
        Integer,
        String,  // bulk string
        Status,  // +OK
        Error,   // -ERR ...
        Array,
    };

    Type type = Type::None;
    qint64 integer = 0;
    QByteArray string; // String, Status and Error
    QList<RedisValue> elements;

    bool isAnswer() const { return type != Type::None; }
    bool isError() const { return type == Type::Error; }
    // The text of an integer, string or status answer.
    QByteArray text() const { return type == Type::Integer ? QByteArray::number(integer) : string; }
    double toDouble(double fallback = 0) const;
    // "" for None; the error text for Error; a short description otherwise.
    QString describe() const;
};

// A Lua script run with EVALSHA (loaded with SCRIPT LOAD on every
// connection), falling back to EVAL when Redis answers NOSCRIPT.
struct RedisScript
{
    QByteArray name;   // for logs
    QByteArray source;
    QByteArray sha1;   // hex, as Redis computes it

    RedisScript() = default;
    RedisScript(QByteArray name, QByteArray source);
    // Concatenates the resource files (":/prawmp/lua/NAME") into one script.
    static RedisScript fromResources(const QByteArray &name, const QStringList &files);
};

// The daemon's connection to Redis: a command link and, once somebody
// subscribes, a second link for pub/sub (a subscribed connection can run
// nothing else). Both are hiredis asynchronous contexts driven by the Qt
// event loop through hiredis' RedisQtAdapter, so nothing ever blocks.
//
// Authenticates (AUTH) and selects the database (SELECT) on every
// connection, loads the registered scripts, re-subscribes, and reconnects
// with a backoff (0.1 s doubling to 2 s) whenever a link drops, a connect
// takes longer than 2 s or a command gets no answer within 2 s.
//
// Every handler passed to command()/eval() runs exactly once, never
// from inside the call that issued it: with the answer, or with a
// RedisValue of type None when there is none.
//
// Owned by ProxyServer (parent); RedisBudgetAuthority and RedisSharedCache
// use it.
class RedisConnection : public QObject
{
    Q_OBJECT
public:
    enum class State { Connecting, Ok, Down };
    using Handler = std::function<void(const RedisValue &)>;
    using MessageHandler = std::function<void(const QByteArray &payload)>;

    static constexpr int kCommandTimeoutMs = 2000;
    static constexpr int kConnectTimeoutMs = 2000;
    static constexpr int kMinBackoffMs = 100;
    static constexpr int kMaxBackoffMs = 2000;

    explicit RedisConnection(const RedisAddress &address, QObject *parent = nullptr);
    ~RedisConnection() override;

    // Connects (and keeps reconnecting until destroyed).
    void start();

    // Ok when the command link is ready and, if anybody subscribed, the
    // pub/sub link too.
    State state() const { return m_state; }
    bool isOk() const { return m_state == State::Ok; }
    static QString stateName(State state);
    const RedisAddress &address() const { return m_address; }

    void command(const QList<QByteArray> &args, Handler handler = {});
    void eval(const RedisScript &script, const QList<QByteArray> &keys, const QList<QByteArray> &args,
              Handler handler = {});
    // Scripts to SCRIPT LOAD on every (re)connection.
    void registerScript(const RedisScript &script);

    // Messages published on `channel` reach `handler` while subscribed,
    // as soon as they arrive (the handler may issue commands).
    void subscribe(const QByteArray &channel, MessageHandler handler);

    // Milliseconds since the command link became ready (-1 while not).
    qint64 readyForMs() const;

signals:
    // The command link (and pub/sub link if used) became usable again.
    void connected();
    // It stopped being usable; `reason` never holds a password.
    void disconnected(const QString &reason);
    void stateChanged(prawmp::RedisConnection::State state);
    // The pub/sub link (re)subscribed: messages published while it was
    // down were missed.
    void subscribed();

private:
    class Link;
    friend class Link;

    void linkReady(Link *link);
    void linkLost(Link *link, const QString &reason);
    void updateState();
    void deliverMessage(const QByteArray &channel, const QByteArray &payload);

    RedisAddress m_address;
    std::unique_ptr<Link> m_commands;
    std::unique_ptr<Link> m_events; // created by the first subscribe()
    QHash<QByteArray, MessageHandler> m_subscriptions;
    QList<RedisScript> m_scripts;
    State m_state = State::Connecting;
    bool m_started = false;
    bool m_failed = false; // a link failed since the connection was last Ok
    QElapsedTimer m_readySince;
};

} // namespace prawmp

#pragma once
#include <QByteArray>
#include <QHash>
#include <QObject>

namespace prawmp {

class AppIdentities;
class RedisConnection;

// Distributed mode: every daemon knows every token's app. What one daemon
// learns goes into one Redis hash (token hash -> identity JSON, never a
// token) and is published; the others take it from the message, and read
// the whole hash whenever their link to Redis (re)connects, so that what
// was learned while they were away is not missed. Owned by ProxyServer.
class RedisIdentities : public QObject
{
    Q_OBJECT
public:
    RedisIdentities(RedisConnection &redis, const QString &prefix, AppIdentities &identities,
                    QObject *parent = nullptr);
    ~RedisIdentities() override;

private:
    void publish(const QByteArray &tokenHash, const QByteArray &json);
    void take(const QByteArray &tokenHash, const QByteArray &json);
    void readAll();

    RedisConnection &m_redis;
    AppIdentities &m_identities;
    QByteArray m_key;
    QByteArray m_channel;
    int m_listener = 0;
    QHash<QByteArray, QByteArray> m_unpublished; // learned while Redis was away
};

} // namespace prawmp

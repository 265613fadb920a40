#include "RedisIdentities.h"

#include "RedisConnection.h"

#include "prawmp/AppIdentities.h"

#include <QDateTime>

#include <utility>

namespace prawmp {

RedisIdentities::RedisIdentities(RedisConnection &redis, const QString &prefix, AppIdentities &identities,
                                 QObject *parent)
    : QObject(parent), m_redis(redis), m_identities(identities),
      m_key(prefix.toUtf8() + "identities"), m_channel(prefix.toUtf8() + "identities:learned")
{
    m_listener = m_identities.addLearnedListener([this](const QByteArray &hash, const AppIdentities::Identity &id) {
        const QByteArray json = AppIdentities::identityToJson(id);
        // Learned on whichever thread answered; Redis is driven from ours.
        QMetaObject::invokeMethod(this, [this, hash, json] { publish(hash, json); }, Qt::QueuedConnection);
    });
    m_redis.subscribe(m_channel, [this](const QByteArray &payload) {
        const qsizetype space = payload.indexOf(' ');
        if (space > 0)
            take(payload.left(space), payload.mid(space + 1));
    });
    connect(&m_redis, &RedisConnection::connected, this, [this] {
        const auto unpublished = std::exchange(m_unpublished, {});
        for (auto it = unpublished.cbegin(); it != unpublished.cend(); ++it)
            publish(it.key(), it.value());
        readAll();
    });
}

RedisIdentities::~RedisIdentities()
{
    m_identities.removeLearnedListener(m_listener);
}

void RedisIdentities::publish(const QByteArray &tokenHash, const QByteArray &json)
{
    if (!m_redis.isOk()) {
        m_unpublished.insert(tokenHash, json); // sent when the link is back
        return;
    }
    m_redis.command({"HSET", m_key, tokenHash, json});
    m_redis.command({"PUBLISH", m_channel, tokenHash + ' ' + json});
}

void RedisIdentities::take(const QByteArray &tokenHash, const QByteArray &json)
{
    const auto identity = AppIdentities::identityFromJson(json);
    if (!identity || tokenHash.size() != 64)
        return;
    if (identity->expires.isValid() && identity->expires < QDateTime::currentDateTimeUtc()) {
        m_redis.command({"HDEL", m_key, tokenHash}); // nobody needs it any more
        return;
    }
    m_identities.insert(tokenHash, *identity);
}

void RedisIdentities::readAll()
{
    m_redis.command({"HGETALL", m_key}, [this](const RedisValue &v) {
        if (v.type != RedisValue::Type::Array)
            return;
        for (qsizetype i = 0; i + 1 < v.elements.size(); i += 2)
            take(v.elements[i].string, v.elements[i + 1].string);
    });
}

} // namespace prawmp

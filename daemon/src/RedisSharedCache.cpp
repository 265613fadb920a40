#include "RedisSharedCache.h"

#include "prawmp/ResponseCache.h"

#include <QCoreApplication>
#include <QDataStream>
#include <QIODevice>
#include <QRandomGenerator>
#include <QSysInfo>

#include <algorithm>
#include <cmath>

namespace prawmp {

namespace {

constexpr quint8 kFormatVersion = 1;

} // namespace

RedisSharedCache::RedisSharedCache(RedisConnection &redis, const QString &prefix, ResponseCache &local,
                                   QObject *parent)
    : QObject(parent), m_redis(redis), m_local(local)
{
    m_id = QStringLiteral("%1:%2:%3")
               .arg(QSysInfo::machineHostName())
               .arg(QCoreApplication::applicationPid())
               .arg(QRandomGenerator::global()->generate(), 8, 16, QLatin1Char('0'))
               .toUtf8();
    const QByteArray p = prefix.toUtf8();
    m_generationKey = p + "cache:gen";
    m_entryPrefix = p + "cache:";
    m_indexPrefix = p + "idx:";
    m_channel = p + "invalidate";

    m_get = RedisScript::fromResources("cache_get", {QStringLiteral("cache_get.lua")});
    m_store = RedisScript::fromResources("cache_store", {QStringLiteral("cache_store.lua")});
    m_evict = RedisScript::fromResources("cache_evict", {QStringLiteral("cache_evict.lua")});
    m_clear = RedisScript::fromResources("cache_clear", {QStringLiteral("cache_clear.lua")});
    for (const RedisScript *s : {&m_get, &m_store, &m_evict, &m_clear})
        m_redis.registerScript(*s);

    m_redis.subscribe(m_channel, [this](const QByteArray &payload) { onMessage(payload); });
    connect(&m_redis, &RedisConnection::subscribed, this, [this] {
        // Invalidations published while we were not listening are lost.
        if (m_local.counters().entries > 0) {
            qCInfo(lcRedis) << "re-subscribed to cache invalidations: clearing the local layer";
            m_local.clear();
        }
    });
    connect(&m_redis, &RedisConnection::connected, this, &RedisSharedCache::onConnected);
}

RedisSharedCache::~RedisSharedCache() = default;

QByteArray RedisSharedCache::serialize(const Response &response, qint64 ttlMs)
{
    QByteArray data;
    QDataStream out(&data, QIODevice::WriteOnly);
    out.setVersion(QDataStream::Qt_6_4);
    out << kFormatVersion << qint64(ttlMs) << qint32(response.status) << response.reason
        << qint32(response.headers.size());
    for (const auto &field : response.headers.fields())
        out << field.first << field.second;
    out << response.body;
    return data;
}

bool RedisSharedCache::deserialize(const QByteArray &data, Response *response, qint64 *ttlMs)
{
    QDataStream in(data);
    in.setVersion(QDataStream::Qt_6_4);
    quint8 version = 0;
    qint64 ttl = 0;
    qint32 status = 0, count = 0;
    Response r;
    in >> version;
    if (version != kFormatVersion)
        return false;
    in >> ttl >> status >> r.reason >> count;
    if (in.status() != QDataStream::Ok || count < 0 || count > 10'000)
        return false;
    for (qint32 i = 0; i < count; ++i) {
        QByteArray name, value;
        in >> name >> value;
        r.headers.add(name, value);
    }
    in >> r.body;
    if (in.status() != QDataStream::Ok)
        return false;
    r.status = status;
    *response = std::move(r);
    *ttlMs = ttl;
    return true;
}

QByteArray RedisSharedCache::message(const QByteArray &operation, const QStringList &urls) const
{
    QByteArray m = m_id + ' ' + operation;
    for (const QString &url : urls)
        m += '\n' + url.toUtf8();
    return m;
}

void RedisSharedCache::lookup(const CacheKey &key, std::function<void(std::optional<Hit>)> answer)
{
    if (!m_redis.isOk()) {
        QMetaObject::invokeMethod(this, [answer = std::move(answer)] { answer(std::nullopt); },
                                  Qt::QueuedConnection);
        return;
    }
    m_redis.eval(m_get, {m_generationKey}, {m_entryPrefix, key.toString().toUtf8()},
                 [answer = std::move(answer)](const RedisValue &v) {
        if (v.type != RedisValue::Type::Array || v.elements.size() < 2) {
            answer(std::nullopt); // a miss, or Redis is unreachable
            return;
        }
        Hit hit;
        qint64 ttlMs = 0;
        if (!deserialize(v.elements[0].string, &hit.response, &ttlMs)) {
            answer(std::nullopt);
            return;
        }
        const qint64 leftMs = std::max<qint64>(0, v.elements[1].integer);
        hit.secondsLeft = double(leftMs) / 1000.0;
        hit.ageSeconds = std::max<qint64>(0, (ttlMs - leftMs) / 1000);
        answer(std::move(hit));
    });
}

void RedisSharedCache::store(const CacheKey &key, const Response &response, double ttlSeconds)
{
    const qint64 ttlMs = qint64(std::llround(ttlSeconds * 1000.0));
    if (!m_redis.isOk() || ttlMs <= 0)
        return;
    m_redis.eval(m_store, {m_generationKey},
                 {m_entryPrefix, m_indexPrefix, key.toString().toUtf8(), key.normalizedUrl().toUtf8(),
                  serialize(response, ttlMs), QByteArray::number(ttlMs)});
}

void RedisSharedCache::evict(const QStringList &normalizedUrls)
{
    if (normalizedUrls.isEmpty())
        return;
    if (!m_redis.isOk()) {
        if (!m_pendingClear && m_pendingEvictions.isEmpty())
            m_pendingSince.start();
        m_pendingEvictions += normalizedUrls;
        return;
    }
    QList<QByteArray> args{m_indexPrefix, m_channel, message("evict", normalizedUrls)};
    for (const QString &url : normalizedUrls)
        args.append(url.toUtf8());
    m_redis.eval(m_evict, {m_generationKey}, args, [this, normalizedUrls](const RedisValue &v) {
        if (!v.isAnswer()) // lost on the way: try again once Redis is back
            m_pendingEvictions += normalizedUrls;
    });
}

void RedisSharedCache::clear()
{
    if (!m_redis.isOk()) {
        m_pendingClear = true;
        m_pendingEvictions.clear();
        m_pendingSince.start();
        return;
    }
    m_redis.eval(m_clear, {m_generationKey}, {m_channel, message("clear")}, [this](const RedisValue &v) {
        if (!v.isAnswer())
            m_pendingClear = true;
    });
}

void RedisSharedCache::onConnected()
{
    if (!m_pendingClear && m_pendingEvictions.isEmpty())
        return;
    // Entries older than the TTL are gone anyway.
    const bool stillMatters = m_pendingSince.isValid()
                              && double(m_pendingSince.elapsed()) < m_local.ttl() * 1000.0 + 1000.0;
    const bool wasClear = m_pendingClear;
    QStringList urls = m_pendingEvictions;
    m_pendingClear = false;
    m_pendingEvictions.clear();
    if (!stillMatters)
        return;
    if (wasClear) {
        clear();
    } else {
        urls.removeDuplicates();
        evict(urls);
    }
}

void RedisSharedCache::onMessage(const QByteArray &payload)
{
    const QList<QByteArray> lines = payload.split('\n');
    const QList<QByteArray> head = lines.value(0).split(' ');
    if (head.size() != 2 || head[0] == m_id)
        return; // ours: done already
    if (head[1] == "clear") {
        m_local.clear();
    } else if (head[1] == "evict") {
        QStringList urls;
        for (qsizetype i = 1; i < lines.size(); ++i)
            urls.append(QString::fromUtf8(lines[i]));
        m_local.evict(urls);
    }
}

} // namespace prawmp

#include "WindowSpendingStore.h"

#include "prawmp/RateLimiter.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QSaveFile>

Q_LOGGING_CATEGORY(lcWindowStore, "prawmp.limiter")

namespace prawmp {

WindowSpendingStore::WindowSpendingStore(RateLimiter &limiter, const QString &stateDir, QObject *parent)
    : QObject(parent), m_limiter(limiter)
{
    if (!stateDir.isEmpty())
        m_path = QDir(stateDir).filePath(QStringLiteral("windows.json"));
}

WindowSpendingStore::~WindowSpendingStore()
{
    save();
}

void WindowSpendingStore::load()
{
    if (m_path.isEmpty())
        return;
    QFile file(m_path);
    if (!file.open(QIODevice::ReadOnly))
        return; // none: the first run, or the last one kept nothing
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &parseError);
    file.close();
    QFile::remove(m_path);
    if (!doc.isArray()) {
        qCWarning(lcWindowStore) << "ignoring" << m_path << ":" << parseError.errorString();
        return;
    }
    QList<WindowSpending> spending;
    for (const QJsonValue &v : doc.array()) {
        const QJsonObject o = v.toObject();
        WindowSpending w;
        w.domain = o.value(QStringLiteral("domain")).toString();
        w.own = o.value(QStringLiteral("own")).toInt();
        w.earlyEnd = QDateTime::fromMSecsSinceEpoch(o.value(QStringLiteral("earlyEndMs")).toInteger(), Qt::UTC);
        w.lateEnd = QDateTime::fromMSecsSinceEpoch(o.value(QStringLiteral("lateEndMs")).toInteger(), Qt::UTC);
        if (!w.domain.isEmpty() && w.own > 0)
            spending.append(w);
    }
    m_limiter.carryWindowSpending(spending);
}

void WindowSpendingStore::save()
{
    if (m_path.isEmpty())
        return;
    const QList<WindowSpending> spending = m_limiter.windowSpending();
    if (spending.isEmpty())
        return;
    QJsonArray array;
    for (const WindowSpending &w : spending)
        array.append(QJsonObject{{QStringLiteral("domain"), w.domain},
                                 {QStringLiteral("own"), w.own},
                                 {QStringLiteral("earlyEndMs"), w.earlyEnd.toMSecsSinceEpoch()},
                                 {QStringLiteral("lateEndMs"), w.lateEnd.toMSecsSinceEpoch()}});
    QSaveFile file(m_path);
    // Owner-only, as the identities: which apps run here is nobody else's business.
    if (!file.open(QIODevice::WriteOnly)
        || !file.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner)
        || file.write(QJsonDocument(array).toJson(QJsonDocument::Compact)) < 0 || !file.commit())
        qCWarning(lcWindowStore) << "cannot save" << m_path << ":" << file.errorString();
}

} // namespace prawmp

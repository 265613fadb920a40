#include "IdentityStore.h"

#include "prawmp/AppIdentities.h"

#include <QDir>
#include <QLoggingCategory>
#include <QTimer>

Q_LOGGING_CATEGORY(lcIdentityStore, "prawmp.identities")

namespace prawmp {

namespace {
constexpr int kSaveDelayMs = 500;
}

IdentityStore::IdentityStore(AppIdentities &identities, const QString &stateDir, QObject *parent)
    : QObject(parent), m_identities(identities)
{
    if (stateDir.isEmpty())
        return;
    m_path = QDir(stateDir).filePath(QStringLiteral("identities.json"));
    m_saveTimer = new QTimer(this);
    m_saveTimer->setSingleShot(true);
    m_saveTimer->setInterval(kSaveDelayMs);
    connect(m_saveTimer, &QTimer::timeout, this, &IdentityStore::saveNow);
    // Learned on whichever thread answered; the timer lives here.
    m_listener = m_identities.addLearnedListener([this](const QByteArray &, const AppIdentities::Identity &) {
        QMetaObject::invokeMethod(m_saveTimer, qOverload<>(&QTimer::start), Qt::QueuedConnection);
    });
}

IdentityStore::~IdentityStore()
{
    m_identities.removeLearnedListener(m_listener);
    if (m_saveTimer && m_saveTimer->isActive())
        saveNow();
}

bool IdentityStore::load(QString *error)
{
    if (m_path.isEmpty())
        return true;
    if (!QDir().mkpath(QFileInfo(m_path).absolutePath())) {
        *error = QStringLiteral("cannot create the state directory %1").arg(QFileInfo(m_path).absolutePath());
        return false;
    }
    QString why;
    if (!m_identities.load(m_path, &why)) {
        *error = QStringLiteral("cannot read %1: %2").arg(m_path, why);
        return false;
    }
    qCInfo(lcIdentityStore) << "known tokens:" << m_identities.size() << "from" << m_path;
    return true;
}

void IdentityStore::saveNow()
{
    if (m_path.isEmpty())
        return;
    if (m_saveTimer)
        m_saveTimer->stop();
    QString error;
    if (!m_identities.save(m_path, &error))
        qCWarning(lcIdentityStore) << "cannot save" << m_path << ":" << error;
}

} // namespace prawmp

#pragma once
#include <QObject>
#include <QString>

class QTimer;

namespace prawmp {

class AppIdentities;

// Keeps what the daemon learned about tokens (AppIdentities: which app each
// token hash belongs to) across restarts, in <state-dir>/identities.json,
// owner-only. Loads at start; saves shortly after each change (batched, so
// a burst of logins writes once) and at shutdown. Owned by ProxyServer.
class IdentityStore : public QObject
{
    Q_OBJECT
public:
    // `stateDir` empty: nothing is kept.
    IdentityStore(AppIdentities &identities, const QString &stateDir, QObject *parent = nullptr);
    ~IdentityStore() override;

    QString path() const { return m_path; }
    // Loads the file (if any); false with a message when it cannot be used.
    bool load(QString *error);
    void saveNow();

private:
    AppIdentities &m_identities;
    QString m_path;
    QTimer *m_saveTimer = nullptr;
    int m_listener = 0;
};

} // namespace prawmp

#pragma once
#include <QObject>
#include <QString>

namespace prawmp {

class RateLimiter;

// Hands the limiter's spending in each window under way to the next daemon
// run (<state-dir>/windows.json, owner-only): saved when the daemon stops,
// read when it starts. A daemon restarted mid-window then counts its
// predecessor's requests as its own rather than as another program's,
// which it would keep budget free for. Local mode only: in distributed mode
// the counts live in Redis. Owned by ProxyServer.
class WindowSpendingStore : public QObject
{
    Q_OBJECT
public:
    // `stateDir` empty: nothing is kept.
    WindowSpendingStore(RateLimiter &limiter, const QString &stateDir, QObject *parent = nullptr);
    ~WindowSpendingStore() override; // saves

    // Reads the file, if any, into the limiter and removes it (it is only
    // true once). A file that cannot be read is reported and ignored.
    void load();
    void save();

private:
    RateLimiter &m_limiter;
    QString m_path;
};

} // namespace prawmp

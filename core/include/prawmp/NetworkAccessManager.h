#pragma once
#include "prawmp/Export.h"
#include "prawmp/RateBudget.h"

#include <QNetworkAccessManager>
#include <QStringList>

#include <chrono>
#include <memory>

namespace prawmp {

class Handler;

// A drop-in QNetworkAccessManager for Qt applications: requests to the
// Reddit hosts (routedHosts()) go through a prawmp Handler, so every
// program of one account shares one rate budget and one response cache;
// all other requests are plain QNAM's. Application code keeps using
// get()/post()/QNetworkReply:
//
//   QNetworkAccessManager *nam = new prawmp::NetworkAccessManager(this); // was: new QNetworkAccessManager(this)
//
// Replies of routed requests are QNetworkReplys with QNAM's signals
// (metaDataChanged, readyRead, downloadProgress, errorOccurred, finished),
// attributes (HttpStatusCodeAttribute, HttpReasonPhraseAttribute,
// SourceIsFromCacheAttribute on cache hits) and error codes (404 ->
// ContentNotFoundError with the body readable, ...). Request attributes:
// CacheLoadControlAttribute AlwaysNetwork asks for a fresh answer, AlwaysCache
// for a cached one only (ContentNotFoundError when there is none, as QNAM);
// transfer timeouts end the reply as QNAM ends it. abort() of a request still
// waiting for budget means it is never sent upstream.
//
// Redirects are followed as the redirect policy says (QNAM's default:
// NoLessSafeRedirectPolicy), when the target is routed too; otherwise the
// 3xx is the answer (RedirectionTargetAttribute set). UserVerifiedRedirectPolicy
// is treated as ManualRedirectPolicy. Not consulted for routed requests:
// the cookie jar, QNAM's own QAbstractNetworkCache, authenticationRequired().
//
// Lives in the thread that creates it (which must run an event loop).
class PRAWMP_EXPORT NetworkAccessManager : public QNetworkAccessManager
{
    Q_OBJECT
    Q_PROPERTY(QStringList routedHosts READ routedHosts WRITE setRoutedHosts)
    Q_PROPERTY(bool fallbackEnabled READ isFallbackEnabled WRITE setFallbackEnabled)
    Q_PROPERTY(bool fallbackActive READ isFallbackActive NOTIFY fallbackActiveChanged)
    Q_PROPERTY(prawmp::RateBudget *rateBudget READ rateBudget CONSTANT)
public:
    // Shares through the praw-multiprocess daemon at $PRAWMP_SERVER
    // (HOST:PORT; [V6ADDR]:PORT) or localhost:10101 (MultiprocessHandler).
    explicit NetworkAccessManager(QObject *parent = nullptr);
    // Through any handler (not owned; it must outlive the manager). With a
    // DefaultHandler the requests are paced and cached in this process.
    explicit NetworkAccessManager(Handler *handler, QObject *parent = nullptr);
    ~NetworkAccessManager() override;

    // Hosts (case-insensitive, any port) whose requests go through the
    // handler. Default: www.reddit.com, oauth.reddit.com.
    void setRoutedHosts(const QStringList &hosts);
    QStringList routedHosts() const;
    bool isRouted(const QUrl &url) const;

    // The handler routed requests go to (the owned MultiprocessHandler for
    // the first constructor).
    Handler *handler() const;
    // "host:port" of the daemon the first constructor chose; empty otherwise.
    QString serverAddress() const;

    // Off by default. On (first constructor only): while the daemon cannot
    // be reached, routed requests are served in this process (DefaultHandler:
    // its own cache and pacing), fallbackActiveChanged(true) says so, and the
    // daemon is tried every fallbackProbeInterval(); once it accepts a
    // connection the manager goes back to it (fallbackActiveChanged(false)).
    // Only requests that never reached the daemon are served in-process.
    void setFallbackEnabled(bool enabled);
    bool isFallbackEnabled() const;
    bool isFallbackActive() const;
    // Default 5 s.
    void setFallbackProbeInterval(std::chrono::milliseconds interval);
    std::chrono::milliseconds fallbackProbeInterval() const;

    // The budget the last routed answer announced (any routed host).
    RateBudget *rateBudget() const;
    // The same for one host (created on first use, owned by the manager).
    RateBudget *rateBudget(const QString &host);

signals:
    void fallbackActiveChanged(bool active);

protected:
    QNetworkReply *createRequest(Operation op, const QNetworkRequest &request,
                                 QIODevice *outgoingData = nullptr) override;

private:
    class Private;
    std::unique_ptr<Private> d;
};

} // namespace prawmp

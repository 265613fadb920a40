#pragma once
#include "prawmp/Error.h"
#include "prawmp/Request.h"
#include "prawmp/Response.h"

#include <QObject>
#include <functional>
#include <memory>

namespace prawmp {

// Sends requests to the real server with QNetworkAccessManager. Redirects
// are not followed (a 302 comes back as a 302); a request that takes longer
// than the timeout fails with Error::Kind::Timeout. Lives in one thread.
class PRAWMP_EXPORT Upstream : public QObject
{
    Q_OBJECT
public:
    using Callback = std::function<void(const Response &, const Error &)>;

    explicit Upstream(QObject *parent = nullptr);
    ~Upstream() override;

    void setTimeout(double seconds);
    double timeout() const;

    // Sends now; `done` runs exactly once unless abort() is called first.
    // Returns an id for abort().
    quint64 send(const Request &request, Callback done);
    void abort(quint64 id);
    // Opens a connection to the URL's host ahead of the first request (TLS
    // for https), so that the first request does not pay QNAM's set-up.
    void preconnect(const QUrl &url);
    int inFlight() const;

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace prawmp

#include "prawmp/RateBudget.h"

#include "prawmp/HttpHeaders.h"

#include <cmath>

namespace prawmp {

struct RateBudget::Private
{
    QString host;
    bool known = false;
    int remaining = 0;
    int used = 0;
    int resetSeconds = 0;
    QDateTime resetTime;
};

RateBudget::RateBudget(const QString &host, QObject *parent)
    : QObject(parent)
    , d(std::make_unique<Private>())
{
    d->host = host;
}

RateBudget::~RateBudget() = default;

bool RateBudget::isKnown() const { return d->known; }
int RateBudget::remaining() const { return d->remaining; }
int RateBudget::used() const { return d->used; }
int RateBudget::budget() const { return d->used + d->remaining; }
QDateTime RateBudget::resetTime() const { return d->resetTime; }
int RateBudget::resetSeconds() const { return d->resetSeconds; }
QString RateBudget::host() const { return d->host; }

bool RateBudget::update(const HttpHeaders &headers)
{
    bool okRemaining = false, okUsed = false, okReset = false;
    // Reddit sends Remaining as a float ("598.0").
    const double remaining = headers.value("X-Ratelimit-Remaining").trimmed().toDouble(&okRemaining);
    const double used = headers.value("X-Ratelimit-Used").trimmed().toDouble(&okUsed);
    const double reset = headers.value("X-Ratelimit-Reset").trimmed().toDouble(&okReset);
    if (!okRemaining && !okUsed && !okReset)
        return false;
    const int newRemaining = okRemaining ? int(std::floor(remaining)) : d->remaining;
    const int newUsed = okUsed ? int(std::floor(used)) : d->used;
    const int newReset = okReset ? int(std::floor(reset)) : d->resetSeconds;
    const bool changed = !d->known || newRemaining != d->remaining || newUsed != d->used || newReset != d->resetSeconds;
    d->known = true;
    d->remaining = newRemaining;
    d->used = newUsed;
    d->resetSeconds = newReset;
    if (okReset)
        d->resetTime = QDateTime::currentDateTime().addSecs(newReset);
    if (changed)
        emit this->changed();
    return true;
}

} // namespace prawmp

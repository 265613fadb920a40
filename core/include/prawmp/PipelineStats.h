#pragma once
#include "prawmp/Reply.h"

#include <QByteArray>
#include <QList>
#include <QString>

namespace prawmp {

// What the request pipeline and its rate limiter report, as carried by
// StatsSnapshot and the daemon's request events: plain data, public so that
// an application can read /_mp/stats and /_mp/events without the daemon's
// internal headers (RateLimiter.h, RequestPipeline.h include this one).

// What the limiter currently believes about one rate domain.
struct PRAWMP_EXPORT DomainState
{
    QString domain;           // "host", "host app:CLIENT_ID" or "host unidentified"
    QString app;              // the OAuth client id of an app's domain, else empty
    QString label;            // --app-label's name for the app, else empty
    // What to show a person: the domain, with the app's label for its client
    // id when it has one ("oauth.reddit.com app:modbot").
    QString displayName() const;
    bool budgetKnown = false; // X-Ratelimit-* headers seen
    int budget = 0;           // used + remaining of the current window
    double remaining = 0;     // our conservative estimate
    double reserved = 0;      // of which kept free for programs outside the daemon
    double secondsToReset = 0; // until the budget surely renews (the end's late bound)
    int queued = 0;
    int inFlight = 0;
    bool paused = false;      // after a 429, until the reset
    quint64 granted = 0;
    quint64 rejected429 = 0;

    // What the limiter has learned of the upstream's window. Reddit does not
    // say how it rounds X-Ratelimit-Reset, so each answer places the end
    // within an interval wide enough for every rounding; answers narrow it.
    double windowSeconds = 0;        // the window is at least this long
    double secondsToWindowEndLo = 0; // the current window ends in [lo, hi] s from now;
    double secondsToWindowEndHi = 0; // pacing aims at lo, the budget renews at hi
    int windowEvidence = 0;          // answers that placed this window's end
    bool windowEndFromAnswers = false; // false: predicted from the last window
    quint64 counterResets = 0;       // windows whose start an answer's count proved
};

// One finished request, as reported to logs, /_mp/events and the GUI.
// The URL has credential-like query values redacted.
struct PRAWMP_EXPORT RequestRecord
{
    qint64 finishedAtMs = 0; // ms since the epoch
    QString clientId;
    QByteArray method;
    QString url;
    int status = 0;          // 0 when there was no upstream answer
    CacheStatus cacheStatus = CacheStatus::Miss;
    QString error;           // Error::code() when failed
    qint64 waitMs = 0;
    qint64 totalMs = 0;
    qint64 bytes = 0;
};

struct PRAWMP_EXPORT PipelineCounters
{
    quint64 requests = 0;
    quint64 hits = 0;
    quint64 misses = 0;
    quint64 bypasses = 0;
    quint64 coalesced = 0;
    // Hits and coalesced answers that another token of the same identity
    // (app, user, scopes) had asked for: the identity cache at work.
    quint64 servedAcrossTokens = 0;
    quint64 upstreamRequests = 0;
    quint64 upstream429 = 0;
    quint64 errors = 0;
    quint64 queueRejections = 0;
    // Histogram of rate-limiter waits: counts of waits <= each bound (ms).
    QList<qint64> waitBucketBoundsMs;
    QList<quint64> waitBucketCounts; // cumulative, one per bound, last = +Inf
    double waitSumMs = 0;
};

} // namespace prawmp

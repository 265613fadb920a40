#include "SummaryTiles.h"

#include "Theme.h"

#include <QLocale>
#include <QPainter>
#include <QPainterPath>

namespace prawmp::gui {

namespace {

QString rate(double perSecond)
{
    return perSecond >= 100 ? QString::number(perSecond, 'f', 0) : QString::number(perSecond, 'f', 1);
}

} // namespace

SummaryTiles::SummaryTiles(QWidget *parent) : QWidget(parent)
{
    using S = theme::Series;
    m_tiles = {
        {tr("Requests / s"), QStringLiteral("–"), {}, int(S::Hits)},
        {tr("Cache hit ratio"), QStringLiteral("–"), {}, int(S::Ratio)},
        {tr("Upstream / s"), QStringLiteral("–"), {}, int(S::Upstream)},
        {tr("Budget left"), QStringLiteral("–"), {}, int(S::Coalesced)},
        {tr("Queued"), QStringLiteral("–"), {}, int(S::Wait)},
        {tr("Clients"), QStringLiteral("–"), {}, int(S::Coalesced)},
        {tr("Cache"), QStringLiteral("–"), {}, int(S::Hits)},
    };
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
}

void SummaryTiles::setStats(const StatsSnapshot &s, double recentHitRatio, double meanWaitMs)
{
    QLocale locale;
    m_tiles[Load].value = rate(s.requestsPerSecond);
    m_tiles[Load].detail = tr("%1 total").arg(locale.toString(s.totals.requests));

    m_tiles[HitRatio].value = recentHitRatio >= 0 ? QStringLiteral("%1%").arg(qRound(recentHitRatio * 100))
                                                  : QStringLiteral("–");
    m_tiles[HitRatio].detail = tr("%1% since start").arg(qRound(s.hitRatio() * 100));

    m_tiles[Upstream].value = rate(s.upstreamPerSecond);
    m_tiles[Upstream].detail = tr("%1 sent · %2 × 429")
                                   .arg(locale.toString(s.totals.upstreamRequests))
                                   .arg(locale.toString(s.totals.upstream429));
    m_tiles[Upstream].alert = s.totals.upstream429 > 0;

    // The tightest domain is what limits everyone.
    const DomainState *tightest = nullptr;
    int queued = 0, inFlight = 0;
    for (const DomainState &d : s.domains) {
        queued += d.queued;
        inFlight += d.inFlight;
        if (d.budgetKnown && d.budget > 0
            && (!tightest || d.remaining / d.budget < tightest->remaining / tightest->budget))
            tightest = &d;
    }
    if (tightest) {
        m_tiles[Budget].value = QStringLiteral("%1 / %2").arg(int(std::max(0.0, tightest->remaining))).arg(tightest->budget);
        m_tiles[Budget].detail = tr("resets in %1 s").arg(qRound(tightest->secondsToReset))
                                 + (s.domains.size() > 1 ? QStringLiteral(" · ") + tightest->domain : QString());
        m_tiles[Budget].alert = tightest->paused || tightest->remaining < 0.1 * tightest->budget;
    } else {
        m_tiles[Budget].value = QStringLiteral("–");
        m_tiles[Budget].detail = s.domains.isEmpty() ? tr("no upstream request yet") : tr("not announced yet");
        m_tiles[Budget].alert = false;
    }

    m_tiles[Queue].value = locale.toString(queued);
    m_tiles[Queue].detail = tr("%1 in flight · wait %2 ms").arg(inFlight).arg(qRound(meanWaitMs));

    int waitingClients = 0;
    for (const ClientStats &c : s.clients)
        waitingClients += c.waiting > 0 ? 1 : 0;
    m_tiles[Clients].value = locale.toString(qsizetype(s.clients.size()));
    m_tiles[Clients].detail = tr("%1 connections · %2 waiting").arg(s.connections).arg(waitingClients);

    m_tiles[Cache].value = locale.toString(s.cacheEntries);
    m_tiles[Cache].detail = tr("%1 of %2 · TTL %3 s")
                                .arg(locale.formattedDataSize(qint64(s.cacheBytes), 1, QLocale::DataSizeTraditionalFormat),
                                     locale.formattedDataSize(s.cacheMaxBytes, 0, QLocale::DataSizeTraditionalFormat))
                                .arg(s.cacheTtlSeconds);
    update();
}

void SummaryTiles::setStale(bool stale)
{
    if (m_stale != stale) {
        m_stale = stale;
        update();
    }
}

QSize SummaryTiles::sizeHint() const
{
    const QFontMetrics fm(font());
    return {TileCount * 150, fm.height() * 4 + 14};
}

QSize SummaryTiles::minimumSizeHint() const
{
    return {TileCount * 90, sizeHint().height()};
}

void SummaryTiles::paintEvent(QPaintEvent *)
{
    QPainter painter(this);
    painter.setRenderHint(QPainter::Antialiasing);
    const QPalette p = palette();
    const int gap = 8;
    const int w = (width() - gap * (TileCount - 1)) / TileCount;
    const QColor text = p.color(m_stale ? QPalette::Disabled : QPalette::Active, QPalette::Text);
    QColor dim = p.color(QPalette::Text);
    dim.setAlpha(150);
    QFont captionFont = font();
    captionFont.setPointSizeF(std::max(7.0, captionFont.pointSizeF() * 0.85));
    QFont valueFont = font();
    valueFont.setPointSizeF(valueFont.pointSizeF() * 1.7);
    valueFont.setBold(true);
    const QFontMetrics captionFm(captionFont), valueFm(valueFont);

    for (int i = 0; i < TileCount; ++i) {
        const Item &t = m_tiles[i];
        const QRectF box(i * (w + gap) + 0.5, 0.5, w - 1, height() - 1);
        QPainterPath path;
        path.addRoundedRect(box, 6, 6);
        painter.fillPath(path, p.color(QPalette::Base));
        painter.setPen(QPen(p.color(QPalette::Mid), 1));
        painter.drawPath(path);
        const QColor accent = m_stale ? dim
                            : t.alert ? theme::color(theme::Series::Error, p)
                                      : theme::color(theme::Series(t.accent), p);
        painter.fillRect(QRectF(box.left() + 1, box.top() + 8, 3, box.height() - 16), accent);

        const QRectF inner = box.adjusted(12, 5, -6, -5);
        painter.setFont(captionFont);
        painter.setPen(dim);
        painter.drawText(QRectF(inner.left(), inner.top(), inner.width(), captionFm.height()),
                         Qt::AlignLeft | Qt::AlignVCenter,
                         captionFm.elidedText(t.caption.toUpper(), Qt::ElideRight, int(inner.width())));
        painter.setFont(valueFont);
        painter.setPen(t.alert && !m_stale ? accent : text);
        const qreal valueTop = inner.top() + captionFm.height();
        painter.drawText(QRectF(inner.left(), valueTop, inner.width(), valueFm.height()),
                         Qt::AlignLeft | Qt::AlignVCenter,
                         valueFm.elidedText(t.value, Qt::ElideRight, int(inner.width())));
        painter.setFont(captionFont);
        painter.setPen(dim);
        painter.drawText(QRectF(inner.left(), valueTop + valueFm.height(), inner.width(), captionFm.height()),
                         Qt::AlignLeft | Qt::AlignVCenter,
                         captionFm.elidedText(t.detail, Qt::ElideRight, int(inner.width())));
    }
}

} // namespace prawmp::gui

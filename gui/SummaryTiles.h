#pragma once
#include "prawmp/StatsSnapshot.h"

#include <QColor>
#include <QList>
#include <QWidget>

namespace prawmp::gui {

// The row of headline numbers above the charts: load, hit ratio, upstream
// rate, budget left, queue, clients, cache. Each tile has a caption, a big
// value, a detail line and an accent colour; all painted from the palette.
class SummaryTiles : public QWidget
{
    Q_OBJECT
public:
    enum Tile { Load, HitRatio, Upstream, Budget, Queue, Clients, Cache, TileCount };

    explicit SummaryTiles(QWidget *parent = nullptr);

    // recentHitRatio: 0..1, negative when unknown.
    void setStats(const StatsSnapshot &stats, double recentHitRatio, double meanWaitMs);
    void setStale(bool stale);
    QString value(Tile tile) const { return m_tiles.at(tile).value; }
    QString detail(Tile tile) const { return m_tiles.at(tile).detail; }

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    struct Item
    {
        QString caption;
        QString value;
        QString detail;
        int accent = 0; // theme::Series
        bool alert = false;
    };
    QList<Item> m_tiles;
    bool m_stale = false;
};

} // namespace prawmp::gui

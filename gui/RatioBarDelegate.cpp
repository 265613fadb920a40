#include "RatioBarDelegate.h"

#include "Theme.h"

#include <QPainter>

namespace prawmp::gui {

RatioBarDelegate::RatioBarDelegate(int role, QObject *parent) : QStyledItemDelegate(parent), m_role(role) {}

void RatioBarDelegate::paint(QPainter *painter, const QStyleOptionViewItem &option,
                             const QModelIndex &index) const
{
    QStyledItemDelegate::paint(painter, option, index);
    const QVariant value = index.data(m_role);
    if (!value.isValid())
        return;
    const double ratio = std::clamp(value.toDouble(), 0.0, 1.0);
    const QRectF track(option.rect.left() + 4, option.rect.bottom() - 4, option.rect.width() - 8, 2.5);
    QColor back = option.palette.color(QPalette::Text);
    back.setAlpha(40);
    painter->save();
    painter->setRenderHint(QPainter::Antialiasing);
    painter->fillRect(track, back);
    painter->fillRect(QRectF(track.left(), track.top(), track.width() * ratio, track.height()),
                      theme::color(theme::Series::Hits, option.palette));
    painter->restore();
}

} // namespace prawmp::gui

#pragma once
#include <QStyledItemDelegate>

namespace prawmp::gui {

// Draws a cell's ratio (a 0..1 number under `role`) as a thin bar under its
// text, so a column of hit ratios reads as a picture.
class RatioBarDelegate : public QStyledItemDelegate
{
    Q_OBJECT
public:
    explicit RatioBarDelegate(int role, QObject *parent = nullptr);
    void paint(QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const override;

private:
    int m_role;
};

} // namespace prawmp::gui

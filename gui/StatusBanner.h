#pragma once
#include <QFrame>
#include <QList>

class QHBoxLayout;
class QLabel;
class QAction;
class QToolButton;

namespace prawmp::gui {

// A message bar above the dashboard for what needs the user's attention
// now ("cannot connect", "start a local daemon?"), with buttons for the
// fitting actions. Not a dialog: it never blocks and never steals focus.
class StatusBanner : public QFrame
{
    Q_OBJECT
public:
    enum class Kind { Info, Warning, Error };

    explicit StatusBanner(QWidget *parent = nullptr);

    void showMessage(Kind kind, const QString &text, const QList<QAction *> &actions = {});
    void dismiss();
    QString text() const;
    Kind kind() const { return m_kind; }
    QList<QAction *> actions() const { return m_actions; }

signals:
    // The user closed it (not emitted by dismiss() called from code).
    void closedByUser();

protected:
    void changeEvent(QEvent *event) override;

private:
    void applyColors();

    QLabel *m_label = nullptr;
    QHBoxLayout *m_buttons = nullptr;
    QToolButton *m_close = nullptr;
    QList<QAction *> m_actions;
    Kind m_kind = Kind::Info;
    bool m_applying = false;
};

} // namespace prawmp::gui

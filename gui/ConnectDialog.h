#pragma once
#include "ServerAddress.h"

#include <QDialog>
#include <QList>

class QCheckBox;
class QComboBox;
class QLineEdit;
class QSpinBox;

namespace prawmp::gui {

// Asks for the daemon to watch: host (with the recent servers to pick
// from), port, and the proxy token if the daemon wants one. The token field
// never shows the token; "remember" stores it in the user's settings.
class ConnectDialog : public QDialog
{
    Q_OBJECT
public:
    explicit ConnectDialog(const QList<ServerAddress> &recent, const ServerAddress &current,
                           QWidget *parent = nullptr);

    ServerAddress server() const;
    bool rememberToken() const;

    // For tests: the fields.
    QComboBox *hostBox() const { return m_host; }
    QSpinBox *portBox() const { return m_port; }
    QLineEdit *tokenEdit() const { return m_token; }

private:
    void pickRecent(int index);

    QList<ServerAddress> m_recent;
    QComboBox *m_host = nullptr;
    QSpinBox *m_port = nullptr;
    QLineEdit *m_token = nullptr;
    QCheckBox *m_remember = nullptr;
};

} // namespace prawmp::gui

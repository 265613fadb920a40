#include "ConnectDialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

namespace prawmp::gui {

ConnectDialog::ConnectDialog(const QList<ServerAddress> &recent, const ServerAddress &current, QWidget *parent)
    : QDialog(parent), m_recent(recent)
{
    setWindowTitle(tr("Connect to a daemon"));

    m_host = new QComboBox(this);
    m_host->setEditable(true);
    m_host->setInsertPolicy(QComboBox::NoInsert);
    for (const ServerAddress &s : recent)
        m_host->addItem(s.displayName());
    m_host->setEditText(current.host);
    m_host->setMinimumContentsLength(24);
    connect(m_host, &QComboBox::activated, this, &ConnectDialog::pickRecent);

    m_port = new QSpinBox(this);
    m_port->setRange(1, 65535);
    m_port->setValue(current.port);

    m_token = new QLineEdit(this);
    m_token->setEchoMode(QLineEdit::Password);
    m_token->setPlaceholderText(tr("only if the daemon runs with --auth-token"));
    m_token->setText(current.token);

    m_remember = new QCheckBox(tr("Remember the token on this computer"), this);
    m_remember->setChecked(!current.token.isEmpty());

    auto *form = new QFormLayout;
    form->addRow(tr("&Host:"), m_host);
    form->addRow(tr("&Port:"), m_port);
    form->addRow(tr("&Token:"), m_token);
    form->addRow(QString(), m_remember);

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Connect"));
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(buttons);
}

void ConnectDialog::pickRecent(int index)
{
    if (index < 0 || index >= m_recent.size())
        return;
    const ServerAddress &s = m_recent[index];
    m_host->setEditText(s.host);
    m_port->setValue(s.port);
    m_token->setText(s.token);
    m_remember->setChecked(!s.token.isEmpty());
}

ServerAddress ConnectDialog::server() const
{
    // "host:port" typed into the host field wins over the port box.
    ServerAddress s = ServerAddress::parse(m_host->currentText());
    const bool portTyped = m_host->currentText().contains(QLatin1Char(':'))
                           && !m_host->currentText().startsWith(QLatin1Char('['))
                           && m_host->currentText().count(QLatin1Char(':')) == 1;
    if (!portTyped || s.port == 0)
        s.port = quint16(m_port->value());
    s.token = m_token->text().trimmed();
    return s;
}

bool ConnectDialog::rememberToken() const
{
    return m_remember->isChecked();
}

} // namespace prawmp::gui

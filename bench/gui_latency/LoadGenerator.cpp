#include "LoadGenerator.h"

#include <QHostAddress>
#include <QTcpSocket>
#include <QTimer>

LoadGenerator::LoadGenerator(quint16 port, int clients, double ratePerSecond, int urls, QObject *parent)
    : QObject(parent), m_port(port), m_rate(ratePerSecond), m_urls(std::clamp(urls, 1, std::max(1, clients)))
{
    for (int i = 0; i < clients; ++i) {
        auto *c = new Client;
        c->userAgent = "bench-client-" + QByteArray::number(i + 1) + "/1.0";
        m_clients.append(c);
    }
    m_timer = new QTimer(this);
    m_timer->setTimerType(Qt::PreciseTimer);
    m_timer->setInterval(2);
    connect(m_timer, &QTimer::timeout, this, &LoadGenerator::tick);
}

void LoadGenerator::prepare()
{
    for (Client *c : std::as_const(m_clients)) {
        c->socket = new QTcpSocket(this);
        c->socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        connect(c->socket, &QTcpSocket::connected, this, [this] {
            ++m_connected;
            checkReady();
        });
        connect(c->socket, &QTcpSocket::readyRead, this, [this, c] { onReadyRead(*c); });
        connect(c->socket, &QTcpSocket::errorOccurred, this, [this, c] {
            ++m_stats.errors;
            c->busy = false;
        });
        c->socket->connectToHost(QHostAddress::LocalHost, m_port);
    }
}

void LoadGenerator::checkReady()
{
    if (m_connected < m_clients.size())
        return;
    if (m_primed == 0) {
        // Prime the cache: the first clients fetch one URL each.
        for (int i = 0; i < m_urls; ++i)
            send(*m_clients[i], i);
        m_primed = -1;
        return;
    }
}

void LoadGenerator::send(Client &c, int urlIndex)
{
    const QByteArray target = "/r/bench" + QByteArray::number(urlIndex) + "/hot.json?limit=5";
    c.busy = true;
    c.expectBody = -1;
    c.hit = false;
    c.socket->write("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + c.userAgent
                    + "\r\nAccept: application/json\r\n\r\n");
    ++m_stats.sent;
}

void LoadGenerator::onReadyRead(Client &c)
{
    c.buffer += c.socket->readAll();
    for (;;) {
        if (c.expectBody < 0) {
            const qsizetype end = c.buffer.indexOf("\r\n\r\n");
            if (end < 0)
                return;
            const QByteArray head = c.buffer.left(end).toLower();
            c.buffer.remove(0, end + 4);
            const qsizetype cl = head.indexOf("\r\ncontent-length:");
            c.expectBody = cl < 0 ? 0 : head.mid(cl + 17, head.indexOf("\r\n", cl + 2) - cl - 17).trimmed().toLongLong();
            c.hit = head.contains("\r\nx-cache: hit");
            if (!head.startsWith("http/1.1 200"))
                ++m_stats.errors;
        }
        if (c.buffer.size() < c.expectBody)
            return;
        c.buffer.remove(0, c.expectBody);
        c.expectBody = -1;
        c.busy = false;
        ++m_stats.answered;
        if (c.hit)
            ++m_stats.hits;
        if (m_primed < 0 && !m_running && m_stats.answered >= quint64(m_urls) && !m_readyEmitted) {
            m_readyEmitted = true;
            emit ready();
        }
        if (c.buffer.isEmpty())
            return;
    }
}

void LoadGenerator::start()
{
    m_running = true;
    m_dueSent = 0;
    m_clock.start();
    m_timer->start();
}

void LoadGenerator::stop()
{
    m_running = false;
    m_timer->stop();
}

void LoadGenerator::tick()
{
    // Requests due so far at the target rate, handed to idle clients in turn.
    const quint64 due = quint64(m_rate * double(m_clock.nsecsElapsed()) / 1e9);
    int scanned = 0;
    while (m_dueSent < due && scanned < m_clients.size()) {
        Client &c = *m_clients[m_next];
        m_next = (m_next + 1) % int(m_clients.size());
        ++scanned;
        if (c.busy || c.socket->state() != QAbstractSocket::ConnectedState)
            continue;
        send(c, int(m_dueSent % quint64(m_urls)));
        ++m_dueSent;
        scanned = 0;
    }
    if (m_dueSent < due) {
        m_stats.behind += due - m_dueSent;
        m_dueSent = due; // do not burst to catch up
    }
}

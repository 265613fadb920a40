#include "ServingThreadStream.h"

#include <QCoreApplication>
#include <QMetaObject>

#include <utility>

namespace prawmp {

ServingThreadStream::ServingThreadStream(quint64 connection, quint64 sequence, Notify notify)
    : m_connection(connection), m_sequence(sequence), m_notify(std::move(notify))
{
}

void ServingThreadStream::start(const Response &head, int sendBufferBytes)
{
    {
        std::lock_guard lock(m_mutex);
        m_news.started = true;
        m_news.head = head;
        m_news.sendBufferBytes = sendBufferBytes;
    }
    notifyOnce();
}

void ServingThreadStream::write(const QByteArray &data)
{
    if (data.isEmpty() || !isOpen())
        return;
    {
        std::lock_guard lock(m_mutex);
        m_news.data.append(data);
    }
    m_queuedBytes.fetch_add(data.size(), std::memory_order_relaxed);
    notifyOnce();
}

qint64 ServingThreadStream::backlog() const
{
    return m_queuedBytes.load(std::memory_order_relaxed) + m_unwritten.load(std::memory_order_relaxed);
}

bool ServingThreadStream::isOpen() const
{
    return m_open.load(std::memory_order_acquire);
}

void ServingThreadStream::close()
{
    if (!isOpen())
        return;
    {
        std::lock_guard lock(m_mutex);
        m_news.closeAsked = true;
    }
    m_open.store(false, std::memory_order_release); // the serving thread ends it when it takes this
    notifyOnce();
}

void ServingThreadStream::setClosedHandler(std::function<void()> handler)
{
    std::lock_guard lock(m_mutex);
    m_closedHandler = std::move(handler);
}

ServingThreadStream::News ServingThreadStream::take()
{
    News news;
    {
        std::lock_guard lock(m_mutex);
        m_notified = false;
        news = std::exchange(m_news, News());
    }
    qint64 taken = 0;
    for (const QByteArray &piece : std::as_const(news.data))
        taken += piece.size();
    m_queuedBytes.fetch_sub(taken, std::memory_order_relaxed);
    return news;
}

void ServingThreadStream::setUnwritten(qint64 bytes)
{
    m_unwritten.store(bytes, std::memory_order_relaxed);
}

void ServingThreadStream::ended()
{
    m_open.store(false, std::memory_order_release);
    m_unwritten.store(0, std::memory_order_relaxed);
    std::function<void()> handler;
    {
        std::lock_guard lock(m_mutex);
        handler = std::exchange(m_closedHandler, {});
        m_news = News(); // nobody will take it
    }
    m_queuedBytes.store(0, std::memory_order_relaxed);
    if (handler && QCoreApplication::instance())
        QMetaObject::invokeMethod(QCoreApplication::instance(), std::move(handler), Qt::QueuedConnection);
}

void ServingThreadStream::notifyOnce()
{
    {
        std::lock_guard lock(m_mutex);
        if (std::exchange(m_notified, true))
            return;
    }
    m_notify(shared_from_this());
}

} // namespace prawmp

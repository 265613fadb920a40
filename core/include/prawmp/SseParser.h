#pragma once
#include "prawmp/Export.h"

#include <QByteArray>
#include <QList>

namespace prawmp {

// Incremental decoder of a text/event-stream (Server-Sent Events): feed the
// bytes as they arrive, take the complete events. Used by the client's
// `stats --watch` and the dashboard to read /_mp/events.
class PRAWMP_EXPORT SseParser
{
public:
    struct Event {
        QByteArray name = "message";
        QByteArray data;
        QByteArray id;
    };

    // Bound on an unterminated event, so a broken stream cannot grow memory forever.
    static constexpr qsizetype kMaxPendingBytes = 8 * 1024 * 1024;

    QList<Event> feed(const QByteArray &bytes);
    bool overflowed() const { return m_overflowed; }

private:
    QByteArray m_buffer;
    Event m_current;
    bool m_hasData = false;
    bool m_overflowed = false;
};

} // namespace prawmp

#include "prawmp/SseParser.h"

namespace prawmp {

QList<SseParser::Event> SseParser::feed(const QByteArray &bytes)
{
    QList<Event> events;
    m_buffer += bytes;
    qsizetype start = 0;
    for (;;) {
        const qsizetype nl = m_buffer.indexOf('\n', start);
        if (nl < 0)
            break;
        QByteArray line = m_buffer.mid(start, nl - start);
        start = nl + 1;
        if (line.endsWith('\r'))
            line.chop(1);
        if (line.isEmpty()) { // blank line: dispatch
            if (m_hasData) {
                if (m_current.data.endsWith('\n'))
                    m_current.data.chop(1);
                events.append(m_current);
            }
            m_current = Event();
            m_hasData = false;
            continue;
        }
        if (line.startsWith(':'))
            continue; // comment / keep-alive
        const qsizetype colon = line.indexOf(':');
        const QByteArray field = colon < 0 ? line : line.left(colon);
        QByteArray value = colon < 0 ? QByteArray() : line.mid(colon + 1);
        if (value.startsWith(' '))
            value.remove(0, 1);
        if (field == "event") {
            m_current.name = value;
        } else if (field == "data") {
            m_current.data += value;
            m_current.data += '\n';
            m_hasData = true;
        } else if (field == "id") {
            m_current.id = value;
        }
    }
    m_buffer.remove(0, start);
    if (m_buffer.size() + m_current.data.size() > kMaxPendingBytes) {
        m_overflowed = true;
        m_buffer.clear();
        m_current = Event();
        m_hasData = false;
    }
    return events;
}

} // namespace prawmp

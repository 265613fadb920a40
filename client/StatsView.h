#pragma once
#include "prawmp/StatsSnapshot.h"

#include <QList>
#include <QString>

namespace prawmp::cli {

// The compact text view of a daemon's state that `stats` prints and
// `stats --watch` redraws: one header block, the rate domains, the
// clients and (when watching) the last requests. Plain ASCII.
QString renderStats(const StatsSnapshot &stats, const QList<RequestRecord> &recent = {},
                    bool showRecent = false);

} // namespace prawmp::cli

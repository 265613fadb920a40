#include "prawmp/BudgetAuthority.h"
#include "prawmp/SharedCache.h"

namespace prawmp {

BudgetAuthority::~BudgetAuthority() = default;
SharedCache::~SharedCache() = default;

} // namespace prawmp

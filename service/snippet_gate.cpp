#include "service/snippet_gate.h"

#include "service/api_error.h"

namespace attnjit::service {

void require_known_snippets(const Database& db, const ProblemSpec& spec, const std::string& field) {
  for (const std::string* h : {&spec.score_mod, &spec.mask_mod}) {
    if (h->empty() || db.get_snippet(*h)) continue;
    throw ApiError(404, "unknown_snippet", field,
                   field + ": snippet " + *h +
                       " is not in this database (the service never accepts snippet text over HTTP; "
                       "it arrives only with a token-authenticated import, POST /v1/results)");
  }
}

}  // namespace attnjit::service

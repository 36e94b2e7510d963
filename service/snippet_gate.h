// The service's side of the snippet threat model (codegen/snippet.h): it never takes snippet
// text over HTTP (only a token-authenticated import brings snippets into its database), and it
// hands out a kernel for a problem with snippets only when every snippet is in that database.
#pragma once

#include "attnjit/problem_spec.h"
#include "db/database.h"

namespace attnjit::service {

// Loads each snippet `spec` names from `db` into the process's snippet store; throws ApiError
// 404 "unknown_snippet" (field `field`) for one the database does not hold.
void require_known_snippets(const Database& db, const ProblemSpec& spec, const std::string& field);

}  // namespace attnjit::service

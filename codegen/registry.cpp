#include "codegen/registry.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

namespace attnjit {

// Each template's module defines its accessor. The list is explicit rather than built by static
// registrars: a static library drops object files nothing references, registrars included.
const KernelTemplate& prefill_sm80_template();
const KernelTemplate& prefill_sm90_template();
const KernelTemplate& decode_sm80_template();
const KernelTemplate& prefill_cpu_template();
const KernelTemplate& decode_cpu_template();

std::vector<const KernelTemplate*> all_templates() {
  return {&prefill_sm80_template(), &prefill_sm90_template(), &decode_sm80_template(), &prefill_cpu_template(),
          &decode_cpu_template()};
}

std::vector<const KernelTemplate*> applicable_templates(const ProblemSpec& spec, const Target& target) {
  std::vector<const KernelTemplate*> out;
  for (const KernelTemplate* t : all_templates())
    if (t->family() == spec.family && t->archs().contains(target) && t->supports(spec, target))
      out.push_back(t);
  std::stable_sort(out.begin(), out.end(), [](const KernelTemplate* a, const KernelTemplate* b) {
    return a->priority() > b->priority();
  });
  return out;
}

namespace {

// The union of several templates that implement one problem on one target (highest priority
// first). Every config it hands out names its member, and every per-config call goes to that
// member, so tuning runs and lookups treat the members as one search space.
class UnionTemplate final : public KernelTemplate {
 public:
  explicit UnionTemplate(std::vector<const KernelTemplate*> members) : members_(std::move(members)) {
    for (const KernelTemplate* m : members_) {
      if (!short_.empty()) short_ += '+';
      short_ += m->short_name();
    }
    std::string all;
    for (const KernelTemplate* m : members_) all += m->name() + "=" + m->version_hash() + ";";
    hash_ = content_hash(all);
  }
  Family family() const override { return members_.front()->family(); }
  std::string_view short_name() const override { return short_; }
  ArchRange archs() const override { return members_.front()->archs(); }
  int priority() const override { return members_.front()->priority(); }
  std::string version_hash() const override { return hash_; }
  bool supports(const ProblemSpec& s, const Target& t) const override {
    return std::any_of(members_.begin(), members_.end(), [&](auto* m) { return m->supports(s, t); });
  }
  std::vector<TileConfig> search_space(const ProblemSpec& s, const Target& t) const override {
    std::vector<TileConfig> out;
    for (const KernelTemplate* m : members_) {
      auto v = m->search_space(s, t);
      out.insert(out.end(), v.begin(), v.end());
    }
    return out;
  }
  // The first member (by priority) that supports the problem and takes it by default; the config
  // names that member, so every later call goes to it.
  TileConfig default_config(const ProblemSpec& s, const Target& t) const override {
    for (const KernelTemplate* m : members_) {
      if (!m->supports(s, t) || !m->default_for(s, t)) continue;
      TileConfig c = m->default_config(s, t);
      if (c.tmpl.empty()) c.tmpl = std::string(m->short_name());
      return c;
    }
    return members_.front()->default_config(s, t);
  }
  std::optional<std::string> can_implement(const ProblemSpec& s, const TileConfig& c,
                                           const Target& t) const override {
    const KernelTemplate* m = member(c);
    if (!m) return "template: config " + c.key() + " names none of " + short_;
    return m->can_implement(s, c, t);
  }
  KernelSource render(const ProblemSpec& s, const TileConfig& c, const Target& t) const override {
    return of(c).render(s, c, t);
  }
  LaunchGeometry geometry(const ProblemSpec& s, const TileConfig& c, const Target& t,
                          const RunShape& r) const override {
    return of(c).geometry(s, c, t, r);
  }
  WorkspaceSize workspace_bytes(const ProblemSpec& s, const TileConfig& c, const Target& t,
                                const RunShape& r) const override {
    return of(c).workspace_bytes(s, c, t, r);
  }
  std::vector<unsigned char> build_arguments(const ProblemSpec& s, const TileConfig& c, const Target& t,
                                             const LaunchArgs& a, const Workspace& w) const override {
    return of(c).build_arguments(s, c, t, a, w);
  }

 private:
  const KernelTemplate* member(const TileConfig& c) const {
    if (c.tmpl.empty()) return members_.front();
    for (const KernelTemplate* m : members_)
      if (m->short_name() == c.tmpl) return m;
    return nullptr;
  }
  const KernelTemplate& of(const TileConfig& c) const {
    if (const KernelTemplate* m = member(c)) return *m;
    throw SpecError("template: config " + c.key() + " names none of " + short_);
  }
  std::vector<const KernelTemplate*> members_;
  std::string short_, hash_;
};

}  // namespace

std::unique_ptr<KernelTemplate> make_union_template(std::vector<const KernelTemplate*> members) {
  if (members.empty()) throw SpecError("template: a union needs at least one member");
  return std::make_unique<UnionTemplate>(std::move(members));
}

const KernelTemplate& select_template(const ProblemSpec& spec, const Target& target) {
  auto ts = applicable_templates(spec, target);
  if (ts.empty())
    throw SpecError("no kernel template implements " + spec.key() + " on " + target.key() +
                    " (family " + std::string(to_string(spec.family)) + ", dtype " +
                    std::string(to_string(spec.dtype)) + ")");
  if (ts.size() == 1) return *ts.front();
  // One union per member set, kept for the process (KernelTemplates are long-lived references).
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<KernelTemplate>> unions;
  std::string key;
  for (const KernelTemplate* t : ts) key += t->name() + ";";
  std::lock_guard lock(mu);
  auto& u = unions[key];
  if (!u) u = make_union_template(std::move(ts));
  return *u;
}

const KernelTemplate& template_for(const ProblemSpec& spec, const Target& target, const TileConfig& cfg) {
  if (cfg.tmpl.empty()) {
    // A key without a template name (from before names, or typed by hand): the highest-priority
    // template that can run it, so "bm64_bn128_w4_s1" still means sm80 where sm90 ranks first.
    const auto ts = applicable_templates(spec, target);
    if (ts.empty()) return select_template(spec, target);  // throws, naming what is unsupported
    for (const KernelTemplate* t : ts)
      if (!t->can_implement(spec, cfg, target)) return *t;
    return *ts.front();
  }
  std::string known;
  for (const KernelTemplate* t : applicable_templates(spec, target)) {
    if (t->short_name() == cfg.tmpl) return *t;
    known += (known.empty() ? "" : ", ") + std::string(t->short_name());
  }
  // The named template exists for this arch but refuses the problem: say why.
  std::string why;
  for (const KernelTemplate* t : all_templates())
    if (t->short_name() == cfg.tmpl && t->family() == spec.family && t->archs().contains(target))
      if (auto r = t->can_implement(spec, cfg, target)) why = ": " + *r;
  throw SpecError("config: template '" + cfg.tmpl + "' does not implement " + spec.key() + " on " +
                  target.key() + why + " (templates that do: " + (known.empty() ? "none" : known) + ")");
}

std::vector<TileConfig> search_space(const ProblemSpec& spec, const Target& target) {
  return select_template(spec, target).search_space(spec, target);
}

TileConfig default_config(const ProblemSpec& spec, const Target& target) {
  return select_template(spec, target).default_config(spec, target);
}

}  // namespace attnjit

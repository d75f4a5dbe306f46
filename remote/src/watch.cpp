// Remote death watch, the watched side.
//
// When a node makes a proxy for one of our actors it sends a `watch` frame;
// the daemon watches the actor locally and, when it stops, sends
// `terminated` back, which stops the proxy over there (and so notifies
// whoever watches the proxy). An actor that does not exist is reported at
// once. Watches of a connection that is lost are dropped: the other side
// stops all its proxies of us anyway.
//
// The daemon is an actor, so its table needs no lock; the loop thread only
// tells it what the frames say.
#include "node_core.hpp"

#include <algorithm>

namespace volley::remote::detail {

void watch_daemon::on(watch_request&& w, context& ctx) {
  auto core = core_.lock();
  if (!core) return;
  // A sender's incarnation ("/user/a#12") that is gone is reported at once,
  // also when a successor holds its path now.
  any_ref target = select_incarnation(core->actor_system(), w.target);
  if (!target || target.is_stopped()) {
    send_terminated(w.conn, w.watcher, w.target);
    return;
  }
  auto [it, fresh] = by_cell_.try_emplace(target.cell());
  watched& entry = it->second;
  if (fresh) {
    entry.ref = target;
    ctx.watch(target);
  }
  remote_watcher who{w.conn, std::move(w.watcher), std::move(w.target)};
  if (std::find(entry.watchers.begin(), entry.watchers.end(), who) == entry.watchers.end()) {
    entry.watchers.push_back(std::move(who));
  }
}

void watch_daemon::on(unwatch_request&& w, context& ctx) {
  const remote_watcher who{w.conn, std::move(w.watcher), std::move(w.target)};
  for (auto it = by_cell_.begin(); it != by_cell_.end(); ++it) {
    auto& ws = it->second.watchers;
    auto found = std::find(ws.begin(), ws.end(), who);
    if (found == ws.end()) continue;
    ws.erase(found);
    if (ws.empty()) {
      ctx.unwatch(it->second.ref);
      by_cell_.erase(it);
    }
    return;
  }
}

void watch_daemon::on(connection_lost&& l, context& ctx) {
  for (auto it = by_cell_.begin(); it != by_cell_.end();) {
    auto& ws = it->second.watchers;
    ws.erase(std::remove_if(ws.begin(), ws.end(),
                            [&](const remote_watcher& w) { return w.conn == l.conn; }),
             ws.end());
    if (ws.empty()) {
      ctx.unwatch(it->second.ref);
      it = by_cell_.erase(it);
    } else {
      ++it;
    }
  }
}

void watch_daemon::on(terminated&& t, context&) {
  auto it = by_cell_.find(t.actor.cell());
  if (it == by_cell_.end()) return;
  for (const remote_watcher& w : it->second.watchers) send_terminated(w.conn, w.path, w.target);
  by_cell_.erase(it);
}

void watch_daemon::send_terminated(connection_id conn, const std::string& watcher,
                                   const std::string& path) {
  auto core = core_.lock();
  if (!core) return;
  frame f;
  f.kind = frame_kind::terminated;
  f.target_path = watcher;
  f.sender_path = path;
  core->send(conn, f);  // a lost connection has lost its proxies already
}

}  // namespace volley::remote::detail

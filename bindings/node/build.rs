//! Node-API link settings (the addon's symbols come from the `node` process that loads it).
fn main() {
    napi_build::setup();
}

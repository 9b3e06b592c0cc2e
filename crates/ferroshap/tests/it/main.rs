mod formats;
mod interactions;
mod interventional;
mod kernel;
mod model_output;
mod oracle;
mod shapes;
mod tree_game;

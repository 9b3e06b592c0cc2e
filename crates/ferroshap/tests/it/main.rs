mod formats;
mod interactions;
mod interventional;
mod kernel;
mod oracle;
mod shapes;

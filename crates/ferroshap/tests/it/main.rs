mod formats;
mod interventional;
mod kernel;
mod oracle;

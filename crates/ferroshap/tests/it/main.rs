mod formats;
mod kernel;
mod oracle;
